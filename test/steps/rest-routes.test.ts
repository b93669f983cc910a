import { it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

// The route suite (test/routes, which `npm test` runs on the SOAP backend) once more on the REST
// backend: TEST_BACKEND=rest makes every test gateway use the simulator's REST face (see
// test/helpers/gateway.ts), in a child test run of its own.

const root = fileURLToPath(new URL('../../', import.meta.url))
const routes = fileURLToPath(new URL('../routes/', import.meta.url))
const TIMEOUT_MS = 8 * 60_000

it('the route suite passes on the REST backend', { timeout: TIMEOUT_MS + 60_000 }, async (t) => {
  const files = readdirSync(routes).filter((f) => f.endsWith('.test.ts')).sort().map((f) => routes + f)
  assert.ok(files.length > 0, `no route tests in ${routes}`)
  const env: NodeJS.ProcessEnv = { ...process.env, TEST_BACKEND: 'rest' }
  // Set by the test runner in the processes it starts; a `node --test` that sees it skips its files.
  delete env.NODE_TEST_CONTEXT
  const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', '--test-concurrency=2', ...files], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: TIMEOUT_MS,
    signal: t.signal
  })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  const { code, signal } = await new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal }))
  })
  const tail = `\n--- last output of the REST route suite ---\n${output.slice(-4000)}`
  assert.equal(signal, null, `the REST route suite was killed (${String(signal)}; timeout ${TIMEOUT_MS} ms)${tail}`)
  assert.equal(code, 0, `the REST route suite exited with ${String(code)}${tail}`)
  assert.match(output, /^# fail 0$/m, `the REST route suite reported failures${tail}`)
  const pass = Number(/^# pass (\d+)$/m.exec(output)?.[1] ?? 0)
  assert.ok(pass > 0, `the REST route suite passed no test${tail}`)
})
