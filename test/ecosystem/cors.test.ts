import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { loadConfig, ConfigError } from '../../src/config.js'
import { startGateway, request, hashKey, TEST_API_KEY, type TestGateway } from '../helpers/gateway.js'

const APP = 'http://127.0.0.1:5173'
const OTHER = 'https://app.example.com'
const EVIL = 'http://127.0.0.1:6666'
const spec = JSON.parse(readFileSync(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'))
const samples: Record<string, string> = { programId: '1970', id: '64', type: 'Opportunity' }
const operations: Array<{ method: string, path: string }> = []
for (const [path, item] of Object.entries<Record<string, unknown>>(spec.paths)) {
  for (const method of Object.keys(item)) operations.push({ method: method.toUpperCase(), path: path.replace(/\{(\w+)\}/g, (_m, n: string) => samples[n] ?? '1') })
}

function corsHeaders (headers: Headers): string[] {
  return [...headers.keys()].filter((h) => h.startsWith('access-control-'))
}

function list (value: string | null): string[] {
  return (value ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '')
}

async function preflight (url: string, origin: string, method = 'POST', headers = 'authorization,content-type,idempotency-key,x-request-id'): Promise<Response> {
  return fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': headers } })
}

describe('CORS_ORIGINS (config)', () => {
  const keys = { API_KEYS: `test:${hashKey(TEST_API_KEY)}` }

  it('unset or empty: no CORS', () => {
    assert.equal(loadConfig({}).corsOrigins, null)
    assert.equal(loadConfig({ CORS_ORIGINS: '' }).corsOrigins, null)
  })

  it('takes comma-separated exact origins', () => {
    assert.deepEqual(loadConfig({ ...keys, CORS_ORIGINS: `${APP}, ${OTHER},${APP}` }).corsOrigins, [APP, OTHER])
  })

  it('refuses * while API keys are configured, and allows it without', () => {
    assert.throws(() => loadConfig({ ...keys, CORS_ORIGINS: '*' }), (err: unknown) => err instanceof ConfigError && /CORS_ORIGINS=\* .*API_KEYS/.test(err.message))
    assert.deepEqual(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins, ['*'])
    assert.throws(() => loadConfig({ CORS_ORIGINS: `*,${APP}` }), ConfigError)
  })

  it('refuses anything that is not an exact origin', () => {
    for (const bad of ['https://app.example.com/', 'app.example.com', 'https://app.example.com/path', 'null', 'ftp://x.example.com', 'https://APP.example.com', 'https://app.example.com:443', 'http://*.example.com']) {
      assert.throws(() => loadConfig({ CORS_ORIGINS: bad }), (err: unknown) => err instanceof ConfigError && err.message.includes('CORS_ORIGINS'), bad)
    }
  })
})

describe('CORS headers over plain HTTP (API keys on)', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ env: { CORS_ORIGINS: `${APP},${OTHER}` } }) })
  after(async () => { await gw.close() })

  it('answers the preflight of every route and method for a listed origin, before auth, without reaching Marketo', async () => {
    const ledger = gw.sim.ledger.length
    for (const op of operations) {
      const res = await preflight(gw.url + op.path, APP, op.method)
      assert.equal(res.status, 204, `${op.method} ${op.path}`)
      assert.equal(res.headers.get('access-control-allow-origin'), APP)
      assert.ok(list(res.headers.get('access-control-allow-methods')).includes(op.method.toLowerCase()), `${op.method} ${op.path}: ${res.headers.get('access-control-allow-methods')}`)
      assert.deepEqual(list(res.headers.get('access-control-allow-headers')).sort(), ['authorization', 'content-type', 'idempotency-key', 'x-request-id'])
      assert.ok(list(res.headers.get('vary')).includes('origin'))
      assert.equal(res.headers.get('access-control-allow-credentials'), null)
      assert.equal(res.headers.get('www-authenticate'), null, 'not a 401 in disguise')
    }
    const other = await preflight(`${gw.url}/opportunities`, OTHER, 'PATCH')
    assert.equal(other.status, 204)
    assert.equal(other.headers.get('access-control-allow-origin'), OTHER)
    assert.equal(gw.sim.ledger.length, ledger, 'a preflight never reaches Marketo')
  })

  it('sends Allow-Origin and Expose-Headers on real answers to a listed origin: 200 and 401 alike', async () => {
    const ok = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ name: 'cors-1' }] }, headers: { origin: APP, 'x-request-id': 'cors-req-1' } })
    assert.equal(ok.status, 200, ok.text)
    assert.equal(ok.headers.get('access-control-allow-origin'), APP)
    assert.deepEqual(list(ok.headers.get('access-control-expose-headers')).sort(), ['idempotent-replayed', 'location', 'retry-after', 'x-request-id'])
    assert.equal(ok.headers.get('x-request-id'), 'cors-req-1')
    const denied = await request(`${gw.url}/opportunities`, { auth: false, headers: { origin: APP } })
    assert.equal(denied.status, 401)
    assert.equal(denied.headers.get('access-control-allow-origin'), APP, 'the app can read its 401')
  })

  it('gives an origin that is not listed no CORS header at all, preflight or not', async () => {
    const pre = await preflight(`${gw.url}/opportunities`, EVIL)
    assert.notEqual(pre.status, 204)
    assert.deepEqual(corsHeaders(pre.headers), [])
    const res = await request(`${gw.url}/opportunities`, { headers: { origin: EVIL } })
    assert.equal(res.status, 200)
    assert.deepEqual(corsHeaders(res.headers), [])
    // Differs from a listed origin only in its port, or its scheme.
    for (const near of ['http://127.0.0.1:5174', 'https://127.0.0.1:5173', 'http://app.example.com', 'null']) {
      assert.deepEqual(corsHeaders((await preflight(`${gw.url}/opportunities`, near)).headers), [], near)
    }
  })

  it('adds nothing to requests without an Origin (curl, server-side clients)', async () => {
    const res = await request(`${gw.url}/opportunities`)
    assert.equal(res.status, 200)
    assert.deepEqual(corsHeaders(res.headers), [])
  })
})

describe('without CORS_ORIGINS', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway() })
  after(async () => { await gw.close() })

  it('sends no CORS header, to any origin, and answers no preflight', async () => {
    const pre = await preflight(`${gw.url}/opportunities`, APP)
    assert.notEqual(pre.status, 204)
    assert.deepEqual(corsHeaders(pre.headers), [])
    const res = await request(`${gw.url}/opportunities`, { headers: { origin: APP } })
    assert.equal(res.status, 200)
    assert.deepEqual(corsHeaders(res.headers), [])
  })
})

describe('CORS_ORIGINS=* without API keys (the embedded simulator)', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ env: { AUTH_DISABLED: 'i-understand-the-risk', CORS_ORIGINS: '*' } }) })
  after(async () => { await gw.close() })

  it('allows any origin with Allow-Origin: *', async () => {
    const pre = await preflight(`${gw.url}/opportunities`, EVIL)
    assert.equal(pre.status, 204)
    assert.equal(pre.headers.get('access-control-allow-origin'), '*')
  })
})
