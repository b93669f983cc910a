import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, assertRestRefusal, storeId, TEST_BACKEND, type TestGateway } from '../helpers/gateway.js'

const opp = (extra: Record<string, unknown>) => ({ opportunities: [{ name: 'x', ...extra }] })

// Each case: none of these may reach Marketo (the simulator ledger stays unchanged).
const cases: Array<{ name: string, path: string, method?: string, body?: unknown, raw?: string, headers?: Record<string, string>, status: number, code: string, field?: string }> = [
  { name: 'unknown field', path: '/opportunities', body: opp({ colour: 'red' }), status: 400, code: 'VALIDATION_FAILED', field: '/opportunities/0/colour' },
  { name: 'unknown top-level field', path: '/programs/1970/costs', body: { costs: [{ month: '2013-06', amount: 1 }], extra: 1 }, status: 400, code: 'VALIDATION_FAILED', field: '/extra' },
  { name: 'string where a number is expected', path: '/opportunities', body: opp({ amount: '1e3' }), status: 400, code: 'VALIDATION_FAILED', field: '/opportunities/0/amount' },
  { name: 'number where a string is expected', path: '/opportunities', body: { opportunities: [{ name: 123 }] }, status: 400, code: 'VALIDATION_FAILED', field: '/opportunities/0/name' },
  { name: 'string where a boolean is expected', path: '/opportunities', body: opp({ isWon: 'false' }), status: 400, code: 'VALIDATION_FAILED', field: '/opportunities/0/isWon' },
  ...['\u0000', '\u0001', '\u0008', '\u000B', '\u001F', '\uD800', '\uFFFE', '\uFFFF'].map((c) => ({
    name: `control character U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`, path: '/opportunities', body: opp({ description: `a${c}b` }), status: 400, code: 'VALIDATION_FAILED', field: '/opportunities/0/description'
  })),
  { name: 'CDATA opener', path: '/opportunities', body: opp({ description: 'a]]>b<![CDATA[c' }), status: 400, code: 'VALIDATION_FAILED', field: '/opportunities/0/description' },
  { name: 'string too long', path: '/opportunities', body: opp({ name: 'x'.repeat(256) }), status: 400, code: 'VALIDATION_FAILED', field: '/opportunities/0/name' },
  { name: 'month 2013-13', path: '/programs/1970/costs', body: { costs: [{ month: '2013-13', amount: 1 }] }, status: 400, code: 'VALIDATION_FAILED', field: '/costs/0/month' },
  { name: 'month 2013-6', path: '/programs/1970/costs', body: { costs: [{ month: '2013-6', amount: 1 }] }, status: 400, code: 'VALIDATION_FAILED', field: '/costs/0/month' },
  { name: 'date 2024-02-30', path: '/opportunities', body: opp({ closeDate: '2024-02-30' }), status: 400, code: 'VALIDATION_FAILED', field: '/opportunities/0/closeDate' },
  { name: 'program id abc', path: '/programs/abc/costs', body: { costs: [{ month: '2013-06', amount: 1 }] }, status: 400, code: 'VALIDATION_FAILED' },
  { name: 'program id 0', path: '/programs/0/costs', body: { costs: [{ month: '2013-06', amount: 1 }] }, status: 400, code: 'VALIDATION_FAILED' },
  { name: 'program id -1', path: '/programs/-1/costs', body: { costs: [{ month: '2013-06', amount: 1 }] }, status: 400, code: 'VALIDATION_FAILED' },
  { name: 'program id past xs:int', path: '/programs/2147483648/costs', body: { costs: [{ month: '2013-06', amount: 1 }] }, status: 400, code: 'VALIDATION_FAILED' },
  { name: 'cost id past xs:int', path: '/programs/1970/costs', body: { costs: [{ month: '2013-06', amount: 1, id: 2147483648 }] }, status: 400, code: 'VALIDATION_FAILED', field: '/costs/0/id' },
  { name: 'amount beyond safe range', path: '/opportunities', raw: '{"opportunities":[{"name":"x","amount":12345678901234567890}]}', headers: { 'content-type': 'application/json' }, status: 400, code: 'VALIDATION_FAILED', field: '/opportunities/0/amount' },
  { name: 'empty batch', path: '/opportunities', body: { opportunities: [] }, status: 400, code: 'VALIDATION_FAILED', field: '/opportunities' },
  { name: '1,001 objects', path: '/opportunities', body: { opportunities: Array.from({ length: 1001 }, () => ({ name: 'x' })) }, status: 400, code: 'VALIDATION_FAILED', field: '/opportunities' },
  { name: 'custom field named $xml', path: '/opportunities', body: opp({ customFields: { $xml: '<evil/>' } }), status: 400, code: 'VALIDATION_FAILED' },
  { name: 'malformed JSON', path: '/opportunities', raw: '{"opportunities": [', headers: { 'content-type': 'application/json' }, status: 400, code: 'MALFORMED_JSON' },
  { name: '__proto__ key', path: '/opportunities', raw: '{"opportunities":[{"name":"x"}],"__proto__":{"polluted":1}}', headers: { 'content-type': 'application/json' }, status: 400, code: 'MALFORMED_JSON' },
  { name: 'text/plain body', path: '/opportunities', raw: 'hello', headers: { 'content-type': 'text/plain' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'XML body', path: '/opportunities', raw: '<x/>', headers: { 'content-type': 'application/xml' }, status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'unknown route', path: '/nothing-here', method: 'GET', status: 404, code: 'NOT_FOUND' }
]

describe('input rules: clear 4xx, nothing reaches Marketo', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ env: { BODY_LIMIT_BYTES: String(300 * 1024) } }) })
  after(async () => { await gw.close() })

  for (const c of cases) {
    it(c.name, async () => {
      const before = gw.sim.ledger.length
      const res = await request(gw.url + c.path, { method: c.method, body: c.body, rawBody: c.raw, headers: c.headers })
      assert.equal(res.status, c.status, res.text)
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
      assert.equal(res.body.code, c.code)
      assert.equal(res.body.status, c.status)
      assert.equal(res.body.requestId, res.headers.get('x-request-id'))
      assert.equal(typeof res.body.type, 'string')
      assert.equal(typeof res.body.title, 'string')
      if (c.field !== undefined) {
        assert.ok(res.body.errors.some((e: { path: string }) => e.path.endsWith(c.field as string)), JSON.stringify(res.body.errors))
      }
      assert.equal(gw.sim.ledger.length, before)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
    })
  }

  it('an oversized body is 413', async () => {
    const before = gw.sim.ledger.length
    const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [{ name: 'x', description: 'y'.repeat(400 * 1024) }] } })
    assert.equal(res.status, 413)
    assert.equal(res.body.code, 'PAYLOAD_TOO_LARGE')
    assert.equal(gw.sim.ledger.length, before)
  })

  it('tab, line feed, carriage return, emoji and XML metacharacters round-trip byte-identical', async () => {
    const description = 'line 1\nline 2\r\n\ttabbed < & > " \' ]]> </value><value> &lt; 😀 مرحبا e\u0301'
    const res = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ externalKey: { name: 'opportunityId', value: 'round-trip' }, name: 'round trip', description }] } })
    assert.equal(res.status, 200)
    assert.equal(gw.sim.store.opportunities.get(storeId('opportunity', res.body.results[0]))?.fields.Description, description)
  })

  it('2147483647 is a valid program id and 0.1 reaches Marketo as "0.1"', async () => {
    let amount = 0.1
    if (TEST_BACKEND === 'rest') {
      // REST program costs are whole numbers: 0.1 answers 400 before any call; a whole amount is sent.
      const before = gw.sim.ledger.length
      const refused = await request(`${gw.url}/programs/2147483647/costs`, { body: { costs: [{ month: '2013-06', amount }] } })
      assertRestRefusal(refused, gw.sim, before, /whole numbers/)
      assert.deepEqual(refused.body.errors.map((e: { path: string }) => e.path), ['/costs/0/amount'])
      amount = 1
    }
    const res = await request(`${gw.url}/programs/2147483647/costs`, { body: { costs: [{ month: '2013-06', amount }] } })
    assert.notEqual(res.status, 400)
    const entry = gw.sim.ledger.at(-1)
    assert.equal(entry?.objects?.[0].id, 2147483647)
    assert.deepEqual(entry?.objects?.[0].typeAttribs?.[0].attribs.find((a) => a.name === 'Amount'), { name: 'Amount', value: String(amount) })
  })
})

// Ids are xs:int and nothing is coerced: a path or query integer is plain decimal digits. Number()
// would read 0x40 as 64, 1e1 as 10, " 0x40 " as 64 and +1, 01, 1.0 as 1, acting on another object.
describe('path and query integers are canonical decimal (issue #12, defect 4)', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ simulator: { limits: { rateLimit: null } }, env: { MARKETO_RATE_LIMIT_WINDOW_MS: '0' } }) })
  after(async () => { await gw.close() })

  const costs = { costs: [{ month: '2013-06', amount: 1 }] }
  const loose: Array<{ method: string, path: string, body?: unknown, field: string }> = [
    { method: 'PATCH', path: '/opportunities/0x40', body: { name: 'hijacked' }, field: 'params:/id' },
    { method: 'DELETE', path: '/opportunities/roles/1e1', field: 'params:/id' },
    { method: 'GET', path: '/opportunities/%20%200x40%20', field: 'params:/id' },
    { method: 'DELETE', path: '/opportunities/%2064', field: 'params:/id' },
    { method: 'GET', path: '/opportunities/roles/10.0', field: 'params:/id' },
    ...['+1', '01', '1.0', '1e0', '0x1', '%201', '1%20'].map((id) => ({ method: 'POST', path: `/programs/${id}/costs`, body: costs, field: 'params:/programId' })),
    { method: 'GET', path: '/programs/0b1', field: 'params:/programId' },
    ...['0x2', '1e1', '+2', '02', '2.0', '%202', '2%20', ''].map((v) => ({ method: 'GET', path: `/opportunities/roles?personId=19&limit=${v}`, field: 'querystring:/limit' })),
    { method: 'GET', path: '/opportunities/roles?personId=0x13', field: 'querystring:/personId' },
    { method: 'GET', path: '/opportunities/roles?opportunityId=4.0', field: 'querystring:/opportunityId' },
    { method: 'GET', path: '/opportunities?companyId=1e0', field: 'querystring:/companyId' },
    { method: 'GET', path: '/programs?workspaceId=%2B1', field: 'querystring:/workspaceId' }
  ]
  for (const c of loose) {
    it(`${c.method} ${c.path}: 400 naming ${c.field}, nothing sent to Marketo`, async () => {
      const before = gw.sim.ledger.length
      const res = await request(gw.url + c.path, { method: c.method, body: c.body })
      assert.equal(res.status, 400, res.text)
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
      assert.equal(res.body.code, 'VALIDATION_FAILED')
      assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path), [c.field], res.text)
      assert.equal(gw.sim.ledger.length, before, 'nothing reached Marketo')
    })
  }

  it('leaves the objects those spellings would have hit untouched', async () => {
    if (TEST_BACKEND === 'rest') {
      assert.ok(gw.sim.store.roles.has(10))
    } else {
      assert.equal((await request(`${gw.url}/opportunities/64`)).body.name, 'Q1 2014')
      assert.equal((await request(`${gw.url}/opportunities/roles/10`)).status, 200)
    }
  })

  it('canonical decimal still works: limit=2, personId=19, and ids within xs:int', async () => {
    const res = await request(`${gw.url}/opportunities/roles?personId=19&limit=2`)
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.items.length, 1)
    for (const [path, field] of [['/programs/2147483648/costs', 'params:/programId'], ['/programs/0/costs', 'params:/programId'], ['/programs/-1/costs', 'params:/programId']]) {
      const out = await request(gw.url + path, { body: costs })
      assert.equal(out.status, 400, out.text)
      assert.deepEqual(out.body.errors.map((e: { path: string }) => e.path), [field])
    }
    for (const limit of ['0', '101', '-1']) {
      const out = await request(`${gw.url}/opportunities/roles?personId=19&limit=${limit}`)
      assert.equal(out.status, 400, out.text)
      assert.deepEqual(out.body.errors.map((e: { path: string }) => e.path), ['querystring:/limit'])
    }
  })
})
