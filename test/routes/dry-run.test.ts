import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, type TestGateway } from '../helpers/gateway.js'
import { DEMO_USER_ID } from '../../src/simulator/index.js'

describe('?dryRun=true', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway() })
  after(async () => { await gw.close() })

  const routes: Array<{ path: string, method?: string, body: unknown, objects: number, calls: number }> = [
    { path: '/programs/1970/costs', body: { costs: [{ month: '2013-06', amount: 2000, id: 153 }] }, objects: 1, calls: 1 },
    { path: '/programs/1970/tags', body: { tags: [{ type: 'Channel', value: 'Webinar' }] }, objects: 1, calls: 1 },
    { path: '/opportunities', body: { opportunities: Array.from({ length: 150 }, (_, i) => ({ externalKey: { name: 'opportunityId', value: `dry-${i}` }, name: 'Dry <run> & co' })) }, objects: 150, calls: 2 },
    { path: '/opportunities/64', method: 'PATCH', body: { stage: 'Dry' }, objects: 1, calls: 1 },
    { path: '/opportunities/roles', body: { roles: [{ opportunityId: 64, personId: 19 }] }, objects: 1, calls: 1 },
    { path: '/mobjects/sync', body: { operation: 'INSERT', mObjects: [{ type: 'Opportunity', attributes: { Name: 'x' } }] }, objects: 1, calls: 1 }
  ]

  for (const r of routes) {
    it(`${r.method ?? 'POST'} ${r.path}: the plan and envelopes, nothing sent`, async () => {
      const before = gw.sim.ledger.length
      const res = await request(`${gw.url}${r.path}?dryRun=true`, { method: r.method, body: r.body, headers: { 'idempotency-key': 'dry-run-key-0001' } })
      assert.equal(res.status, 200, res.text)
      assert.equal(res.body.dryRun, true)
      assert.equal(res.body.plan.length, r.objects)
      assert.deepEqual(res.body.plan.map((p: { index: number }) => p.index), Array.from({ length: r.objects }, (_, i) => i))
      assert.equal(res.body.calls.length, r.calls)
      for (const call of res.body.calls) {
        assert.match(call.envelope, /<ns1:paramsSyncMObjects|paramsSyncMObjects/)
        assert.match(call.envelope, /<requestSignature>\[REDACTED\]<\/requestSignature>/)
        assert.doesNotMatch(call.envelope, new RegExp(DEMO_USER_ID))
      }
      assert.equal(gw.sim.ledger.length, before, JSON.stringify(gw.sim.ledger.slice(before).map((e) => [e.operation, e.syncOperation, e.objects?.length])))
    })
  }

  it('a dry run does not consume the Idempotency-Key, and invalid input is still 400', async () => {
    const real = await request(`${gw.url}/programs/1970/costs`, { body: { costs: [{ month: '2013-06', amount: 2000, id: 153 }] }, headers: { 'idempotency-key': 'dry-run-key-0001' } })
    assert.equal(real.status, 200)
    assert.equal(real.body.dryRun, undefined)
    assert.equal(real.headers.get('idempotent-replayed'), null)
    const bad = await request(`${gw.url}/opportunities?dryRun=true`, { body: { opportunities: [{ name: 1 }] } })
    assert.equal(bad.status, 400)
    const unknownQuery = await request(`${gw.url}/opportunities?dryRn=true`, { body: { opportunities: [{ name: 'x' }] } })
    assert.equal(unknownQuery.status, 400)
  })
})
