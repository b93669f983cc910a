import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { DEMO_ENCRYPTION_KEY, DEMO_USER_ID, type Knob } from '../../simulator/index.js'
import { startGateway, request, hashKey, TEST_API_KEY, TEST_API_KEYS, type JsonResponse, type TestGateway } from '../helpers/gateway.js'

let n = 0
const body = () => ({ opportunities: [{ externalKey: { name: 'opportunityId', value: `hdr-${n++}` }, name: 'h' }] })

// S7: on every response, whatever its status.
function assertCommonHeaders (res: JsonResponse, contentType: string): void {
  assert.equal(res.headers.get('cache-control'), 'no-store')
  assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
  assert.equal(res.headers.get('content-type'), contentType)
  assert.match(res.headers.get('x-request-id') ?? '', /^[A-Za-z0-9._:-]{1,128}$/)
}

// S6: what an error answer must never carry.
function assertNothingLeaks (res: JsonResponse, gw: TestGateway): void {
  const endpoint = new URL(gw.sim.endpoint)
  for (const secret of [DEMO_ENCRYPTION_KEY, DEMO_USER_ID, 'mktowsUserId', 'requestSignature', 'SOAP-ENV', '<?xml', endpoint.host, endpoint.pathname, TEST_API_KEY, TEST_API_KEYS.alice]) {
    assert.ok(!res.text.includes(secret), `${res.status} answer contains ${secret}: ${res.text}`)
  }
  assert.ok(!/\bat .+:\d+:\d+\)?/.test(res.text), `stack trace: ${res.text}`)
  assert.ok(!res.text.includes('<'), `markup: ${res.text}`)
}

describe('response headers and error hygiene (S6, S7)', () => {
  let gw: TestGateway
  before(async () => {
    gw = await startGateway({
      env: {
        API_KEYS: `test:${hashKey(TEST_API_KEY)},alice:${hashKey(TEST_API_KEYS.alice)}`,
        BODY_LIMIT_BYTES: '2048',
        MARKETO_MAX_ATTEMPTS: '1',
        BREAKER_FAILURE_THRESHOLD: '100',
        MARKETO_CALL_TIMEOUT_MS: '300'
      }
    })
  })
  after(async () => { await gw.close() })

  it('2xx: write and health', async () => {
    const ok = await request(`${gw.url}/opportunities`, { body: body() })
    assert.equal(ok.status, 200, ok.text)
    assertCommonHeaders(ok, 'application/json; charset=utf-8')
    const health = await request(`${gw.url}/healthz`)
    assert.equal(health.status, 200)
    assertCommonHeaders(health, 'application/json; charset=utf-8')
  })

  const clientErrors: Array<{ name: string, status: number, send: () => Promise<JsonResponse> }> = [
    { name: '401 no key', status: 401, send: () => request(`${gw.url}/opportunities`, { body: body(), auth: false }) },
    { name: '401 on an unknown route', status: 401, send: () => request(`${gw.url}/nope`, { auth: false }) },
    { name: '400 validation', status: 400, send: () => request(`${gw.url}/opportunities`, { body: { opportunities: [] } }) },
    { name: '400 malformed JSON', status: 400, send: () => request(`${gw.url}/opportunities`, { rawBody: '{"a":', headers: { 'content-type': 'application/json' } }) },
    { name: '400 bad request id', status: 400, send: () => request(`${gw.url}/healthz`, { headers: { 'x-request-id': 'x'.repeat(200) } }) },
    { name: '404', status: 404, send: () => request(`${gw.url}/nope`) },
    { name: '413', status: 413, send: () => request(`${gw.url}/opportunities`, { body: { opportunities: [{ name: 'x'.repeat(4_000) }] } }) },
    { name: '415', status: 415, send: () => request(`${gw.url}/opportunities`, { rawBody: '<x/>', headers: { 'content-type': 'application/xml' } }) }
  ]
  for (const c of clientErrors) {
    it(`4xx: ${c.name}`, async () => {
      const res = await c.send()
      assert.equal(res.status, c.status, res.text)
      assertCommonHeaders(res, 'application/problem+json; charset=utf-8')
      assert.equal(res.body.status, c.status)
      assertNothingLeaks(res, gw)
      if (c.status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="marketo-gateway"')
    })
  }

  const upstream: Array<{ knob: Knob, status: number }> = [
    { knob: { fault: 20014 }, status: 502 },
    { knob: { fault: 20011 }, status: 502 },
    { knob: { fault: 20016 }, status: 502 },
    { knob: { html502: true }, status: 502 },
    { knob: { truncated: true }, status: 502 },
    { knob: { empty200: true }, status: 502 },
    { knob: { resetAfterApply: true }, status: 502 },
    { knob: { hostile: 'doctype-xxe' }, status: 502 },
    { knob: { latencyMs: 1_000 }, status: 504 }
  ]
  for (const u of upstream) {
    it(`5xx: ${JSON.stringify(u.knob)}`, async () => {
      gw.sim.knobs.enqueue(u.knob)
      const res = await request(`${gw.url}/opportunities`, { body: body(), auth: TEST_API_KEYS.alice })
      assert.ok(res.status >= 500, res.text)
      assertCommonHeaders(res, 'application/problem+json; charset=utf-8')
      assertNothingLeaks(res, gw)
      // Fault texts from Marketo may name the user id; they never pass through.
      assert.ok(!res.text.includes('20014') || res.body.upstreamCode === 20014)
    })
  }

  it('429 from the per-key limit', async () => {
    const limited = await startGateway({ env: { API_KEY_RATE_LIMIT: '1' } })
    try {
      assert.equal((await request(`${limited.url}/opportunities`, { body: body() })).status, 200)
      const res = await request(`${limited.url}/opportunities`, { body: body() })
      assert.equal(res.status, 429, res.text)
      assertCommonHeaders(res, 'application/problem+json; charset=utf-8')
      assert.match(res.headers.get('retry-after') ?? '', /^\d+$/)
      assertNothingLeaks(res, limited)
    } finally {
      await limited.close()
    }
  })

  it('503: Marketo unreachable', async () => {
    const down = await startGateway({ env: { MARKETO_SOAP_ENDPOINT: 'http://127.0.0.1:9/soap/mktows/2_3', MARKETO_MAX_ATTEMPTS: '1' } })
    try {
      const res = await request(`${down.url}/opportunities`, { body: body() })
      assert.equal(res.status, 503, res.text)
      assertCommonHeaders(res, 'application/problem+json; charset=utf-8')
      assert.ok(!res.text.includes('127.0.0.1') && !res.text.includes(':9') && !res.text.includes('ECONNREFUSED'), res.text)
      assertNothingLeaks(res, down)
    } finally {
      await down.close()
    }
  })
})
