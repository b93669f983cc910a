import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('../../scripts/audit-deps.mjs', import.meta.url))

function audit (dir?: string): { status: number | null, out: string } {
  const r = spawnSync(process.execPath, dir === undefined ? [script] : [script, dir], { encoding: 'utf8' })
  return { status: r.status, out: r.stdout + r.stderr }
}

function fixture (pkg: unknown, lock: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-deps-'))
  writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg))
  if (lock !== undefined) writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock))
  return dir
}

const good = { name: 'x', dependencies: { a: '1.2.3' }, devDependencies: { b: '0.1.0-beta.1' } }
const goodLock = {
  lockfileVersion: 3,
  packages: {
    '': { name: 'x' },
    'node_modules/a': { version: '1.2.3', integrity: 'sha512-AAAA' },
    'node_modules/b': { version: '0.1.0-beta.1', integrity: 'sha512-BBBB', dev: true }
  }
}

describe('dependency audit (scripts/audit-deps.mjs)', () => {
  it('this project passes', () => {
    const r = audit()
    assert.equal(r.status, 0, r.out)
    assert.match(r.out, /no findings/)
  })

  it('accepts a clean fixture', () => {
    const dir = fixture(good, goodLock)
    try {
      assert.equal(audit(dir).status, 0)
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  const bad: Array<[string, unknown, unknown, RegExp]> = [
    ['a range', { dependencies: { a: '^1.2.3' } }, goodLock, /not an exact version/],
    ['a tilde', { devDependencies: { b: '~0.1.0' } }, goodLock, /not an exact version/],
    ['a git dependency', { dependencies: { a: 'git+https://example.com/a.git' } }, goodLock, /not from the registry/],
    ['a GitHub shorthand', { dependencies: { a: 'someone/a' } }, goodLock, /not from the registry/],
    ['a file dependency', { dependencies: { a: 'file:../a' } }, goodLock, /not from the registry/],
    ['a resolved URL', good, { ...goodLock, packages: { ...goodLock.packages, 'node_modules/a': { version: '1.2.3', integrity: 'sha512-A', resolved: 'https://registry.npmjs.org/a/-/a-1.2.3.tgz' } } }, /resolved URL/],
    ['a missing integrity', good, { ...goodLock, packages: { ...goodLock.packages, 'node_modules/a': { version: '1.2.3' } } }, /no integrity/],
    ['a linked folder', good, { ...goodLock, packages: { ...goodLock.packages, 'node_modules/c': { link: true, resolved: '../c' } } }, /link to a local folder/],
    ['a transitive http dependency', good, { ...goodLock, packages: { ...goodLock.packages, 'node_modules/a': { version: '1.2.3', integrity: 'sha512-A', dependencies: { z: 'http://example.com/z.tgz' } } } }, /not from the registry/],
    ['no lock file', good, undefined, /package-lock.json is missing/]
  ]
  for (const [name, pkg, lock, message] of bad) {
    it(`flags ${name}`, () => {
      const dir = fixture(pkg, lock)
      try {
        const r = audit(dir)
        assert.equal(r.status, 1, r.out)
        assert.match(r.out, message)
      } finally {
        rmSync(dir, { recursive: true })
      }
    })
  }
})
