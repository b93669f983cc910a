import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { startSimulator, DEMO_ENCRYPTION_KEY, DEMO_USER_ID } from '../../simulator/index.js'
import { request } from '../helpers/gateway.js'

const serverEntry = new URL('../../src/server.ts', import.meta.url).pathname

function startServer (env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', serverEntry], {
    env: { ...process.env, NODE_ENV: 'production', PORT: '0', LOG_LEVEL: 'info', AUTH_DISABLED: 'i-understand-the-risk', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setInterval(() => {
      const m = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (m !== null) { clearInterval(timer); resolve(m[1]) }
    }, 20)
    child.on('exit', () => { clearInterval(timer); reject(new Error(`exited: ${output}`)) })
  })
  // Start-up failures are the point of some tests; only the tests that await `listening` care.
  listening.catch(() => {})
  return { child, listening, output: () => output }
}

describe('start-up and shutdown', () => {
  it('a missing WSDL stops start-up within seconds with one clear message naming the setting', async () => {
    const started = Date.now()
    const { child, output } = startServer({ MARKETO_WSDL: '/nonexistent/mktows.wsdl' })
    const [code] = await once(child, 'exit')
    assert.notEqual(code, 0)
    assert.ok(Date.now() - started < 5_000)
    assert.match(output(), /MARKETO_WSDL/)
  })

  it('an invalid setting stops start-up with a message naming it', async () => {
    const { child, output } = startServer({ PORT: 'eighty' })
    const [code] = await once(child, 'exit')
    assert.notEqual(code, 0)
    assert.match(output(), /PORT/)
  })

  it('SIGTERM with 20 requests in flight: all complete, then exit 0', async () => {
    const sim = await startSimulator({ host: '127.0.0.1', port: 0 })
    // Coalescing off, so the 20 requests are 20 upstream calls (10 in flight, 10 queued).
    const { child, listening } = startServer({ MARKETO_SOAP_ENDPOINT: sim.endpoint, MARKETO_USER_ID: DEMO_USER_ID, MARKETO_ENCRYPTION_KEY: DEMO_ENCRYPTION_KEY, COALESCE_WINDOW_MS: '0' })
    try {
      const url = await listening
      sim.knobs.setDefault({ latencyMs: 1_000 })
      const inFlight = Array.from({ length: 20 }, (_, i) => request(`${url}/opportunities`, { body: { operation: 'insert', opportunities: [{ name: `drain-${i}` }] } }))
      const waitUntil = Date.now() + 10_000
      while (sim.stats.currentConcurrent < 10 && Date.now() < waitUntil) await new Promise((resolve) => setTimeout(resolve, 10))
      assert.equal(sim.stats.currentConcurrent, 10, 'requests in flight before SIGTERM')
      child.kill('SIGTERM')
      const responses = await Promise.all(inFlight)
      assert.deepEqual(responses.map((r) => r.status), Array(20).fill(200))
      const [code] = await once(child, 'exit')
      assert.equal(code, 0)
      const created = responses.reduce((n, r) => n + Number(r.body.summary.created), 0)
      assert.equal(created, 20)
    } finally {
      child.kill('SIGKILL')
      await sim.close()
    }
  })
})
