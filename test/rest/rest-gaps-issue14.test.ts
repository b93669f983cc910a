import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, type TestGateway } from '../helpers/gateway.js'

// Issue #14, the last points: reads by several external keys or GUIDs in calls of up to 300
// filterValues, unknown fields checked against the REST describe before any write, deletes of up
// to 300 records a call, and GET /programs by tag or browsing. Everything runs against the
// simulator's REST face over HTTP; the calls are read from its ledger.

type RestEntry = NonNullable<TestGateway['sim']['ledger'][number]['rest']>

function entries (gw: TestGateway, from: number, operation: string): RestEntry[] {
  return gw.sim.ledger.slice(from).flatMap((e) => e.rest === undefined || e.operation !== operation ? [] : [e.rest])
}

describe('REST deletes: up to 300 records a call (issue #14)', () => {
  it('300 deletes are one call, 301 are two (300 and 1)', async (t) => {
    const gw = await startGateway({ backend: 'rest', env: { COALESCE_WINDOW_MS: '0', MARKETO_RATE_LIMIT_WINDOW_MS: '0' } })
    t.after(async () => { await gw.close() })
    const keys = Array.from({ length: 601 }, (_, i) => `del-${i}`)
    const created = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: keys.map((k) => ({ externalKey: { name: 'opportunityId', value: k }, name: k })) } })
    assert.equal(created.status, 200, created.text.slice(0, 300))
    const target = (k: string) => ({ type: 'Opportunity', externalKey: { name: 'opportunityId', value: k } })
    let from = gw.sim.ledger.length
    const first = await request(`${gw.url}/mobjects/delete`, { body: { objects: keys.slice(0, 300).map(target) } })
    assert.equal(first.status, 200, first.text.slice(0, 300))
    assert.equal(first.body.summary.deleted, 300)
    assert.deepEqual(entries(gw, from, 'deleteMObjects').map((e) => (e.body as { input: unknown[] }).input.length), [300])
    from = gw.sim.ledger.length
    const second = await request(`${gw.url}/mobjects/delete`, { body: { objects: keys.slice(300).map(target) } })
    assert.equal(second.status, 200, second.text.slice(0, 300))
    assert.equal(second.body.summary.deleted, 301)
    assert.deepEqual(second.body.results.map((r: { index: number }) => r.index), Array.from({ length: 301 }, (_, i) => i))
    assert.deepEqual(entries(gw, from, 'deleteMObjects').map((e) => (e.body as { input: unknown[] }).input.length), [300, 1])
    assert.equal(gw.sim.store.opportunities.size, 3)
  })
})
