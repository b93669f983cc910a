import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

// The simulator is its own unit (issue #13): nothing under simulator/ may reach into the
// gateway's src/, by an import, a re-export, a dynamic import or a file read by URL.

const root = fileURLToPath(new URL('../../', import.meta.url))
const simulatorDir = join(root, 'simulator')

function files (dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : [path]
  })
}

/** Every module specifier or URL path a source text names. */
function specifiers (text: string): string[] {
  const out: string[] = []
  const patterns = [
    /\b(?:import|export)\s[^'"`;]*?\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
    /\brequire\s*\(\s*['"`]([^'"`]+)['"`]\s*\)/g,
    /\bnew\s+URL\s*\(\s*['"`]([^'"`]+)['"`]/g
  ]
  for (const re of patterns) for (const m of text.matchAll(re)) out.push(m[1])
  return out
}

/** The gateway-side targets a file under simulator/ names (empty when it stays inside). */
function gatewayTargets (file: string, text: string): string[] {
  return specifiers(text).filter((s) => {
    if (!s.startsWith('.') && !s.startsWith('/')) return /^(src|\.\.?)\//.test(s)
    const target = resolve(dirname(file), s)
    return target !== simulatorDir && !target.startsWith(simulatorDir + sep)
  })
}

describe('the simulator imports nothing from the gateway', () => {
  it('the scanner finds each way of reaching out (so the check below can fail)', () => {
    const file = join(simulatorDir, 'rest', 'x.ts')
    const samples = [
      "import type { MObject } from '../../src/domain/model.js'",
      "export { computeSignature } from '../../src/backends/soap/signing.js'",
      "const m = await import('../../src/domain/fields.js')",
      "readFileSync(new URL('../../src/backends/soap/wsdl/mktows-2_3.wsdl', import.meta.url))",
      "import '../../src/config.js'"
    ]
    for (const s of samples) assert.equal(gatewayTargets(file, s).length, 1, s)
    assert.deepEqual(gatewayTargets(file, "import { toGuid } from './guid.js'\nimport { SimulatorFault } from '../faults.js'\nimport { SaxesParser } from 'saxes'"), [])
  })

  it('no file under simulator/ names a module or file outside simulator/', () => {
    const sources = files(simulatorDir).filter((f) => /\.(ts|mts|cts|js|mjs)$/.test(f))
    assert.ok(sources.length >= 10, `found ${sources.length} sources under simulator/`)
    const offenders = sources.flatMap((f) => gatewayTargets(f, readFileSync(f, 'utf8')).map((s) => `${relative(root, f)}: ${s}`))
    assert.deepEqual(offenders, [])
  })

  it('the simulator\'s tsconfig compiles only simulator/ (rootDir is the unit)', () => {
    const config = JSON.parse(readFileSync(join(simulatorDir, 'tsconfig.json'), 'utf8')) as { extends?: string, compilerOptions?: { rootDir?: string }, include?: string[] }
    assert.equal(config.extends, '../tsconfig.json')
    assert.equal(config.compilerOptions?.rootDir, '.')
    assert.deepEqual(config.include, ['.'])
  })
})
