import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { authHeader, envelope, post } from './helpers.js'

const SERVER = fileURLToPath(new URL('../../simulator/server.ts', import.meta.url))

async function startServer (t: { after (fn: () => void): void }, env: Record<string, string>): Promise<{ endpoint: string, child: ReturnType<typeof spawn> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER], { env: { ...process.env, SIMULATOR_PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout?.setEncoding('utf8')
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (c: string) => {
      out += c
      const m = /"endpoint":"([^"]+)"/.exec(out)
      if (m && out.includes('ready')) resolve(m[1])
    })
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)))
  })
  return { endpoint, child }
}

describe('standalone server', () => {
  it('serves SOAP, the WSDL and /healthz; no admin path by default; closes on SIGTERM', async (t) => {
    const { endpoint, child } = await startServer(t, {})
    assert.match(endpoint, /^http:\/\/127\.0\.0\.1:\d+\/soap\/mktows\/2_3$/)
    const base = endpoint.replace('/soap/mktows/2_3', '')
    const health = await fetch(`${base}/healthz`)
    assert.deepEqual([health.status, await health.json()], [200, { status: 'ok' }])
    assert.equal((await fetch(`${base}/__admin/ledger`)).status, 404)
    const wsdl = await (await fetch(`${endpoint}?wsdl`)).text()
    assert.ok(wsdl.includes(`<soap:address location="${endpoint}" />`))
    const reply = await post(endpoint, envelope('<ns1:paramsDescribeMObject><objectName>Opportunity</objectName></ns1:paramsDescribeMObject>', authHeader({ now: new Date() })))
    assert.equal(reply.status, 200)
    child.kill('SIGTERM')
    const [code] = await once(child, 'exit')
    assert.equal(code, 0)
  })

  it('takes credentials from the environment and exposes the admin path with SIMULATOR_ADMIN=1', async (t) => {
    const { endpoint } = await startServer(t, { SIMULATOR_USER_ID: 'me', SIMULATOR_ENCRYPTION_KEY: 'secret', SIMULATOR_ADMIN: '1' })
    const base = endpoint.replace('/soap/mktows/2_3', '')
    const body = envelope('<ns1:paramsDescribeMObject><objectName>Opportunity</objectName></ns1:paramsDescribeMObject>', authHeader({ now: new Date(), userId: 'me', key: 'secret' }))
    assert.equal((await post(endpoint, body)).status, 200)
    assert.equal((await post(endpoint, envelope('<ns1:paramsDescribeMObject><objectName>Opportunity</objectName></ns1:paramsDescribeMObject>', authHeader({ now: new Date() })))).status, 500)
    const enqueue = await fetch(`${base}/__admin/knobs/enqueue`, { method: 'POST', body: JSON.stringify({ html502: true }) })
    assert.equal(enqueue.status, 200)
    assert.equal((await post(endpoint, body)).status, 502)
    const ledger = await (await fetch(`${base}/__admin/ledger`)).json() as { operation: string, faultCode?: number }[]
    assert.deepEqual(ledger.map((e) => [e.operation, e.faultCode]), [['describeMObject', undefined], ['describeMObject', 20014], ['describeMObject', undefined]])
    const stats = await (await fetch(`${base}/__admin/stats`)).json() as { totalCalls: number }
    assert.equal(stats.totalCalls, 3)
    assert.equal((await fetch(`${base}/__admin/reset`, { method: 'POST' })).status, 200)
    assert.deepEqual(await (await fetch(`${base}/__admin/ledger`)).json(), [])
    const store = await (await fetch(`${base}/__admin/store`)).json() as { programs: { id: number }[] }
    assert.deepEqual(store.programs.map((p) => p.id), [1001, 1002, 1970])
  })
})

describe('endpoint routing', () => {
  it('404 elsewhere, 405 for other methods on the endpoint', async (t) => {
    const { start } = await import('./helpers.js')
    const sim = await start(t)
    assert.equal((await fetch(sim.endpoint.replace('2_3', '2_2'), { method: 'POST' })).status, 404)
    const get = await fetch(sim.endpoint)
    assert.deepEqual([get.status, get.headers.get('allow')], [405, 'POST'])
    const wsdl = await fetch(sim.wsdlUrl)
    assert.equal(wsdl.headers.get('content-type'), 'text/xml; charset=utf-8')
    const text = await wsdl.text()
    assert.ok(text.includes(`<soap:address location="${sim.endpoint}" />`))
    assert.ok(!text.includes('na-aba.marketo.com'))
  })
})
