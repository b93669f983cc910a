import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'

// README "Migrating to the REST backend" (issue #14, point 3): its table of REST calls names every
// REST path the REST backend's code sends to, and its table of refusals quotes every message the
// REST backend refuses a request with, before any call; and neither table names anything the code
// does not. The tables are read from the README, the paths and messages from src/backends/rest/.

const dir = new URL('../../src/backends/rest/', import.meta.url)
const sources = Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => [f, readFileSync(new URL(f, dir), 'utf8')]))
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')

/** A string or template literal's text, its `${…}` parts as "…". */
function literalText (quote: string, body: string): string {
  const text = quote === '`' ? body.replace(/\$\{(?:[^{}]|\{[^{}]*\})*\}/g, '…') : body
  return text.replace(/\\(['`"\\])/g, '$1')
}

/** A string or template literal whose quote is capture group `n` and text group n + 1. */
const literal = (n: number): string => `(['\\x60])((?:\\\\.|(?!\\${n})[^\\\\])*)\\${n}`

/** `const NAME = '…'` and `const name = \`…\`` of one source, by name. */
function constants (source: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const m of source.matchAll(new RegExp(String.raw`const ([A-Za-z_]\w*) = ${literal(2)}`, 'g'))) out.set(m[1], literalText(m[2], m[3]))
  return out
}

/** The messages right after `call` (a regular expression): literals, or constants of the same file. */
function messages (source: string, call: string): string[] {
  const consts = constants(source)
  const out: string[] = []
  for (const m of source.matchAll(new RegExp(String.raw`${call}\s*(?:${literal(1)}|([A-Za-z_]\w*)\s*[,)])`, 'g'))) {
    if (m[3] !== undefined) {
      const value = consts.get(m[3])
      assert.ok(value !== undefined, `${call}… ${m[3]}: not a constant of the same file`)
      out.push(value)
    } else out.push(literalText(m[1], m[2]))
  }
  return out
}

/** Every refusal of the REST backend: refuse(message) in reads.ts, add(path, message) in restProblems, and the 501s. */
function codeRefusals (): Set<string> {
  const out = new Set<string>()
  for (const [file, source] of Object.entries(sources)) {
    for (const msg of messages(source, String.raw`refuse\(`)) out.add(msg)
    for (const msg of messages(source, String.raw`'BACKEND_UNSUPPORTED',`)) out.add(msg)
    if (file === 'mapping.ts') {
      const problems = source.slice(source.indexOf('export function restProblems'), source.indexOf('\nfunction opportunityRecord'))
      // add(path, message): the path is a literal or a template; the message what follows.
      for (const m of problems.matchAll(new RegExp(String.raw`add\((?:'[^']*'|\x60[^\x60]*\x60),\s*(?:${literal(1)}|([A-Za-z_]\w*)\))`, 'g'))) {
        if (m[3] !== undefined) {
          const value = constants(source).get(m[3])
          assert.ok(value !== undefined, `add(…, ${m[3]}): not a constant of mapping.ts`)
          out.add(value)
        } else out.add(literalText(m[1], m[2]))
      }
    }
  }
  return out
}

/** Every REST path in the code: literals naming /rest/… or /identity/…, `${…}` as {id}. */
function codePaths (): Set<string> {
  const out = new Set<string>()
  for (const source of Object.values(sources)) {
    for (const m of source.matchAll(/(?:['\x60]|\})(\/(?:rest|identity)\/[^'\x60\s]*)['\x60]/g)) out.add(m[1].replace(/\$\{[^}]*\}/g, '{id}'))
  }
  return out
}

/** The rows of the README table that follows `<!-- marker -->`, as arrays of cells. */
function table (marker: string): string[][] {
  const at = readme.indexOf(`<!-- ${marker} -->`)
  assert.ok(at >= 0, `README has no <!-- ${marker} --> table`)
  const lines = readme.slice(at).split('\n').slice(1)
  const rows: string[][] = []
  for (const line of lines) {
    if (!line.startsWith('|')) { if (rows.length > 0) break; continue }
    rows.push(line.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()))
  }
  return rows.slice(2)
}

const section = readme.slice(readme.indexOf('## Migrating to the REST backend'), readme.indexOf('\n## ', readme.indexOf('## Migrating to the REST backend') + 5))

describe('README migration section against the REST backend\'s code', () => {
  it('the scanners find what they must (so an empty match cannot pass)', () => {
    const refusals = codeRefusals()
    assert.ok(refusals.size >= 30, `${refusals.size} refusals`)
    assert.ok(refusals.has('a role has no external key'))
    assert.ok([...refusals].some((r) => r.startsWith('the REST API sets a program\'s channel only when the program is created')))
    assert.ok([...refusals].some((r) => r.startsWith('the external key of an opportunity is "…"')))
    const paths = codePaths()
    for (const p of ['/rest/v1/opportunities.json', '/rest/asset/v1/program/{id}.json', '/rest/asset/v1/program/byName.json', '/identity/oauth/token']) assert.ok(paths.has(p), p)
  })

  it('every refusal message in the code is quoted in the refusals table, and every quoted one is in the code', () => {
    const quoted = new Set(table('rest-refusals').map((row) => {
      const cell = row[1] ?? ''
      assert.match(cell, /^`[^`]+`$/, `a refusals row quotes its message in one code span: ${row.join(' | ')}`)
      return cell.slice(1, -1)
    }))
    const code = codeRefusals()
    assert.deepEqual([...code].filter((m) => !quoted.has(m)).sort(), [], 'refusals missing from the README table')
    assert.deepEqual([...quoted].filter((m) => !code.has(m)).sort(), [], 'README refusals the code no longer has')
  })

  it('every REST path the code calls is in the calls table, and every path there is called', () => {
    const rows = table('rest-calls')
    const named = new Set(rows.flatMap((row) => [...(row[1] ?? '').matchAll(/\/(?:rest|identity)\/[\w/{}.-]+/g)].map((m) => m[0])))
    const code = codePaths()
    assert.deepEqual([...code].filter((p) => !named.has(p)).sort(), [], 'REST paths missing from the README table')
    assert.deepEqual([...named].filter((p) => !code.has(p)).sort(), [], 'README REST paths the code does not call')
  })

  it('both tables are inside the migration section', () => {
    assert.ok(section.includes('<!-- rest-calls -->') && section.includes('<!-- rest-refusals -->'))
  })
})
