import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, syncCalls, type TestGateway } from '../helpers/gateway.js'

const createdWithKey = (gw: TestGateway, value: string) => [...gw.sim.store.opportunities.values()].filter((o) => o.fields.opportunityId === value).length

// The same request as a client would build it twice, with its object keys in another order.
const built = (value: string, amount = 10) => ({
  operation: 'insert',
  opportunities: [
    { externalKey: { name: 'opportunityId', value }, name: value, amount },
    { externalKey: { name: 'opportunityId', value: `${value}-b` }, name: `${value}-b` }
  ]
})
const rebuilt = (value: string, amount = 10) => ({
  opportunities: [
    { amount, name: value, externalKey: { value, name: 'opportunityId' } },
    { name: `${value}-b`, externalKey: { value: `${value}-b`, name: 'opportunityId' } }
  ],
  operation: 'insert'
})

describe('Idempotency-Key fingerprint ignores object key order (issue #12, defect 8)', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ env: { MARKETO_MAX_ATTEMPTS: '1', BREAKER_FAILURE_THRESHOLD: '1000' } }) })
  after(async () => { await gw.close() })

  it('the same body with its keys in another order (nested too) → replayed, one upstream call', async () => {
    const headers = { 'idempotency-key': 'key-order-00001' }
    assert.notEqual(JSON.stringify(rebuilt('idem-order')), JSON.stringify(built('idem-order')), 'the two bodies differ on the wire')
    const calls = syncCalls(gw.sim)
    const first = await request(`${gw.url}/opportunities`, { body: built('idem-order'), headers })
    assert.equal(first.status, 200, first.text)
    const retry = await request(`${gw.url}/opportunities`, { body: rebuilt('idem-order'), headers })
    assert.equal(retry.status, 200, retry.text)
    assert.equal(retry.headers.get('idempotent-replayed'), 'true')
    assert.equal(retry.text, first.text)
    assert.equal(syncCalls(gw.sim), calls + 1, 'one upstream call')
    assert.equal(createdWithKey(gw, 'idem-order'), 1)
  })

  it('the same key with a different value, reordered or not → still 422, nothing sent', async () => {
    const headers = { 'idempotency-key': 'key-order-00002' }
    const first = await request(`${gw.url}/opportunities`, { body: built('idem-value'), headers })
    assert.equal(first.status, 200, first.text)
    const calls = syncCalls(gw.sim)
    for (const body of [built('idem-value', 11), rebuilt('idem-value', 11)]) {
      const res = await request(`${gw.url}/opportunities`, { body, headers })
      assert.equal(res.status, 422, res.text)
      assert.equal(res.body.code, 'IDEMPOTENCY_KEY_REUSED')
    }
    assert.equal(syncCalls(gw.sim), calls)
  })

  it('arrays keep their order: the same objects in another order → 422', async () => {
    const headers = { 'idempotency-key': 'key-order-00003' }
    const body = built('idem-array')
    const first = await request(`${gw.url}/opportunities`, { body, headers })
    assert.equal(first.status, 200, first.text)
    const calls = syncCalls(gw.sim)
    const swapped = { ...body, opportunities: [...body.opportunities].reverse() }
    const res = await request(`${gw.url}/opportunities`, { body: swapped, headers })
    assert.equal(res.status, 422, res.text)
    assert.equal(res.body.code, 'IDEMPOTENCY_KEY_REUSED')
    assert.equal(syncCalls(gw.sim), calls)
  })
})
