import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DEMO_ENCRYPTION_KEY, DEMO_USER_ID } from '../../simulator/index.js'
import { TEST_API_KEYS, hashKey } from '../helpers/gateway.js'

// S4: the integration suites (routes, including the fault paths, and the security tests) run
// again in a child process at LOG_LEVEL=trace; test/helpers/gateway.ts appends every log line
// to TEST_LOG_FILE and every requestSignature the simulators computed to TEST_SECRETS_FILE.
// Not one line may carry a secret.
const root = fileURLToPath(new URL('../../', import.meta.url))
const self = fileURLToPath(import.meta.url)

function suiteFiles (): string[] {
  return ['test/routes', 'test/security']
    .flatMap((dir) => readdirSync(join(root, dir)).filter((f) => f.endsWith('.test.ts')).map((f) => join(root, dir, f)))
    .filter((f) => f !== self)
}

describe('secret scan over the verbose integration suite (S4)', () => {
  it('no secret in any log line at trace level', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-scan-'))
    try {
      const logFile = join(dir, 'logs.ndjson')
      const secretsFile = join(dir, 'signatures.txt')
      const files = suiteFiles()
      // NODE_TEST_CONTEXT would make the child report to this runner instead of running its own.
      const { NODE_TEST_CONTEXT: _ctx, ...env } = process.env
      const child = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=dot', ...files], {
        cwd: root,
        env: { ...env, TEST_LOG_LEVEL: 'trace', TEST_LOG_FILE: logFile, TEST_SECRETS_FILE: secretsFile },
        encoding: 'utf8',
        timeout: 480_000,
        maxBuffer: 64 * 1024 * 1024
      })
      t.diagnostic(`child suite (${files.length} files) exit ${child.status}`)
      if (child.status !== 0) t.diagnostic(`${child.stdout.slice(-2_000)}\n${child.stderr.slice(-2_000)}`)
      assert.ok(existsSync(logFile), 'the helper wrote no log file')
      const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l !== '')
      const signatures = [...new Set(existsSync(secretsFile) ? readFileSync(secretsFile, 'utf8').split('\n').filter((s) => s !== '') : [])]
      t.diagnostic(`${lines.length} log lines, ${signatures.length} signatures`)

      // The scan can fail: there are many lines, trace ones among them, and signatures to look for.
      assert.ok(lines.length > 1_000, `only ${lines.length} log lines`)
      assert.ok(lines.some((l) => l.includes('"level":10')), 'no trace-level line: TEST_LOG_LEVEL was not applied')
      assert.ok(lines.some((l) => l.includes('"code":"UPSTREAM_')), 'no upstream failure logged: the error paths did not run')
      // A signature covers the user id and a timestamp to the second, so calls in one second share it.
      assert.ok(signatures.length >= 5, `only ${signatures.length} signatures collected`)

      const needles: Array<[string, string]> = [
        ['the Marketo encryption key', DEMO_ENCRYPTION_KEY],
        ['the Marketo user id', DEMO_USER_ID],
        ['a SOAP signature element', '<requestSignature>'],
        ['a SOAP credentials header', 'AuthenticationHeader'],
        ...Object.entries(TEST_API_KEYS).flatMap(([name, key]): Array<[string, string]> => [[`API key ${name}`, key], [`API key hash ${name}`, hashKey(key)]]),
        ...signatures.map((s): [string, string] => ['a requestSignature', s])
      ]
      const found: string[] = []
      for (const line of lines) {
        const lower = line.toLowerCase()
        if (lower.includes('authorization')) found.push(`"authorization": ${line.slice(0, 300)}`)
        for (const [what, needle] of needles) {
          if (line.includes(needle)) found.push(`${what}: ${line.slice(0, 300)}`)
        }
      }
      assert.deepEqual(found.slice(0, 20), [])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
