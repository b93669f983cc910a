import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, assertRestRefusal, storeId, syncCalls, TEST_BACKEND, type TestGateway } from '../helpers/gateway.js'
import { toGuid } from '../../simulator/index.js'

const emptySummary = { total: 0, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0, deleted: 0, unknown: 0, notApplied: 0 }
const rest = TEST_BACKEND === 'rest'
/** A role's opportunity: by id on SOAP, by its external key on REST (which has no integer ids); 7 and 64 are seeded with keys. */
const opportunityOf = (id: 7 | 64) => rest ? { opportunity: { externalKey: { name: 'opportunityId', value: id === 64 ? 'Opportunity_3' : 'Opportunity_2' } } } : { opportunityId: id }

describe('write routes against the simulator', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway() })
  after(async () => { await gw.close() })

  it('syncMObjects page example 1: program 1970 cost update', async () => {
    if (rest) {
      // REST has no cost ids, so cost 153 cannot be updated in place: 400 before any call. REST
      // appends costs; the same cost without its id is appended, with the same JSON answer.
      const before = gw.sim.ledger.length
      const refused = await request(`${gw.url}/programs/1970/costs`, { body: { costs: [{ month: '2013-06', amount: 2000, id: 153, note: 'Updated cost' }] } })
      assertRestRefusal(refused, gw.sim, before, /no cost ids/)
      assert.deepEqual(refused.body.errors.map((e: { path: string }) => e.path), ['/costs/0/id'])
      const res = await request(`${gw.url}/programs/1970/costs`, { body: { costs: [{ month: '2013-06', amount: 2000, note: 'Updated cost' }] } })
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8')
      assert.deepEqual(res.body, { requestId: res.headers.get('x-request-id'), operation: 'update', summary: { ...emptySummary, total: 1, updated: 1 }, results: [{ index: 0, id: 1970, status: 'updated' }] })
      const entry = gw.sim.ledger.at(-1)
      assert.equal(entry?.syncOperation, 'UPDATE')
      assert.deepEqual(entry?.objects, [{ type: 'Program', id: 1970, typeAttribs: [{ attrType: 'Cost', attribs: [{ name: 'Month', value: '2013-06' }, { name: 'Amount', value: '2000' }, { name: 'Note', value: 'Updated cost' }] }] }])
      const program = gw.sim.store.programs.get(1970)
      assert.deepEqual(program?.costs.map((c) => [c.month, c.amount, c.note]), [['2013-05', '1200', 'Kick-off'], ['2013-06', '1500', undefined], ['2013-06', '2000', 'Updated cost']])
      return
    }
    const res = await request(`${gw.url}/programs/1970/costs`, { body: { costs: [{ month: '2013-06', amount: 2000, id: 153, note: 'Updated cost' }] } })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8')
    assert.deepEqual(res.body, {
      requestId: res.headers.get('x-request-id'),
      operation: 'update',
      summary: { ...emptySummary, total: 1, updated: 1 },
      results: [{ index: 0, id: 1970, status: 'updated' }]
    })
    const entry = gw.sim.ledger.at(-1)
    assert.equal(entry?.syncOperation, 'UPDATE')
    assert.deepEqual(entry?.objects, [{
      type: 'Program',
      id: 1970,
      typeAttribs: [{ attrType: 'Cost', attribs: [{ name: 'Month', value: '2013-06' }, { name: 'Amount', value: '2000' }, { name: 'Id', value: '153' }, { name: 'Note', value: 'Updated cost' }] }]
    }])
    const program = gw.sim.store.programs.get(1970)
    assert.equal(program?.costs.find((c) => c.id === 153)?.amount, '2000')
  })

  it('syncMObjects page example 2: opportunity "Q1 2014" is created, then updated by external key', async () => {
    const body = {
      operation: 'upsert',
      opportunities: [{ externalKey: { name: 'opportunityId', value: 'Q1-2014-ext' }, name: 'Q1 2014', amount: 20_000, closeDate: '2014-03-31', stage: 'Prospecting', isWon: false, probability: 10 }]
    }
    const first = await request(`${gw.url}/opportunities`, { body })
    assert.equal(first.status, 200)
    assert.equal(first.body.results[0].status, 'created')
    assert.deepEqual(first.body.results[0].externalKey, { name: 'opportunityId', value: 'Q1-2014-ext' })
    const id = storeId('opportunity', first.body.results[0])
    assert.ok(Number.isInteger(id) && id > 0)
    const stored = gw.sim.store.opportunities.get(id)
    assert.equal(stored?.fields.Name, 'Q1 2014')
    assert.equal(stored?.fields.Amount, '20000')
    assert.equal(stored?.fields.IsWon, '0')

    const again = await request(`${gw.url}/opportunities`, { body })
    // REST has no "unchanged": a write that changes nothing answers updated.
    assert.equal(again.body.results[0].status, rest ? 'updated' : 'unchanged')
    const changed = await request(`${gw.url}/opportunities`, { body: { opportunities: [{ ...body.opportunities[0], stage: 'Closed Won' }] } })
    const ref = rest ? { id: null, marketoGUID: toGuid('opportunity', id) } : { id }
    assert.deepEqual(changed.body.results, [{ index: 0, ...ref, externalKey: { name: 'opportunityId', value: 'Q1-2014-ext' }, status: 'updated' }])
  })

  it('syncMObjects page example 3: role for opportunity 64 and person 19', async () => {
    const res = await request(`${gw.url}/opportunities/roles`, { body: { operation: 'insert', roles: [{ ...opportunityOf(64), personId: 19, role: 'Controller', isPrimary: false }] } })
    assert.equal(res.status, 200)
    assert.equal(res.body.summary.created, 1)
    assert.equal(res.body.results[0].status, 'created')
    const role = gw.sim.store.roles.get(storeId('role', res.body.results[0]))
    assert.equal(role?.opportunityId, 64)
    assert.equal(role?.personId, 19)
    assert.equal(role?.fields.Role, 'Controller')
    assert.equal(role?.fields.IsPrimary, '0')
  })

  it('program tags: a known channel updates, an unknown value answers 207 with Marketo\'s error', async () => {
    if (rest) {
      // REST sets a program's channel only at creation (programs.md; Update Program answers 709):
      // a Channel tag answers 400 before any call, known value or not, and the channel stays.
      for (const value of ['Webinar', 'Carrier Pigeon']) {
        const before = gw.sim.ledger.length
        const refused = await request(`${gw.url}/programs/1001/tags`, { body: { tags: [{ type: 'Region', value: 'EMEA' }, { type: 'Channel', value }] } })
        assertRestRefusal(refused, gw.sim, before, /channel only when the program is created/)
        assert.deepEqual(refused.body.errors.map((e: { path: string }) => e.path), ['/tags/1/type'])
      }
      assert.deepEqual(gw.sim.store.programs.get(1001)?.tags, [{ type: 'Channel', value: 'Content' }])
      // Other tags update as on SOAP, and an unknown value is Marketo's per-program failure.
      const ok = await request(`${gw.url}/programs/1001/tags`, { body: { tags: [{ type: 'Region', value: 'EMEA' }] } })
      assert.equal(ok.status, 200, ok.text)
      assert.equal(ok.body.results[0].status, 'updated')
      assert.deepEqual(gw.sim.store.programs.get(1001)?.tags.find((t) => t.type === 'Region'), { type: 'Region', value: 'EMEA' })
      const bad = await request(`${gw.url}/programs/1001/tags`, { body: { tags: [{ type: 'Region', value: 'Carrier Pigeon' }] } })
      assert.equal(bad.status, 207, bad.text)
      assert.equal(bad.body.results[0].status, 'failed')
      assert.equal(bad.body.results[0].error.code, 'MARKETO_OBJECT_FAILED')
      assert.match(bad.body.results[0].error.message, /\(709\)$/)
      return
    }
    const ok = await request(`${gw.url}/programs/1001/tags`, { body: { tags: [{ type: 'Channel', value: 'Webinar' }] } })
    assert.equal(ok.status, 200)
    assert.equal(ok.body.results[0].status, 'updated')
    const bad = await request(`${gw.url}/programs/1001/tags`, { body: { tags: [{ type: 'Channel', value: 'Carrier Pigeon' }] } })
    assert.equal(bad.status, 207)
    assert.equal(bad.body.summary.failed, 1)
    assert.equal(bad.body.results[0].status, 'failed')
    assert.equal(bad.body.results[0].error.code, 'MARKETO_OBJECT_FAILED')
    assert.match(bad.body.results[0].error.message, /\S/)
  })

  it('PATCH /opportunities/{id}: updates an existing one, 404 for a missing one', async () => {
    if (rest) {
      // PATCH names the opportunity by its integer id, which REST does not have: 400 before any
      // call. Its REST equivalent is an update by marketoGUID, where a missing one is skipped.
      const before = gw.sim.ledger.length
      assertRestRefusal(await request(`${gw.url}/opportunities/64`, { method: 'PATCH', body: { stage: 'Negotiation', amount: 12.5 } }), gw.sim, before, /integer opportunity ids are SOAP-only/)
      assertRestRefusal(await request(`${gw.url}/opportunities/999999`, { method: 'PATCH', body: { stage: 'Negotiation' } }), gw.sim, before, /integer opportunity ids are SOAP-only/)
      const guid = toGuid('opportunity', 64)
      const ok = await request(`${gw.url}/opportunities`, { body: { operation: 'update', opportunities: [{ marketoGUID: guid, stage: 'Negotiation', amount: 12.5 }] } })
      assert.equal(ok.status, 200, ok.text)
      assert.deepEqual(ok.body.results, [{ index: 0, id: null, marketoGUID: guid, status: 'updated' }])
      assert.equal(gw.sim.store.opportunities.get(64)?.fields.Amount, '12.5')
      const missing = await request(`${gw.url}/opportunities`, { body: { operation: 'update', opportunities: [{ marketoGUID: toGuid('opportunity', 999999), stage: 'Negotiation' }] } })
      assert.equal(missing.status, 200, missing.text)
      assert.deepEqual(missing.body.results, [{ index: 0, id: null, marketoGUID: toGuid('opportunity', 999999), status: 'skipped', error: { code: 'MARKETO_OBJECT_SKIPPED', message: 'Opportunity not found (1004)' } }])
      assert.equal(gw.sim.store.opportunities.get(999999), undefined)
      return
    }
    const ok = await request(`${gw.url}/opportunities/64`, { method: 'PATCH', body: { stage: 'Negotiation', amount: 12.5 } })
    assert.equal(ok.status, 200)
    assert.deepEqual(ok.body, { index: 0, id: 64, status: 'updated' })
    assert.equal(gw.sim.store.opportunities.get(64)?.fields.Amount, '12.5')
    const missing = await request(`${gw.url}/opportunities/999999`, { method: 'PATCH', body: { stage: 'Negotiation' } })
    assert.equal(missing.status, 404)
    assert.equal(missing.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    assert.equal(missing.body.code, 'NOT_FOUND')
    assert.equal(missing.body.requestId, missing.headers.get('x-request-id'))
  })

  it('roles: a role may refer to an opportunity created earlier in the same request (generic sync)', async () => {
    const res = await request(`${gw.url}/mobjects/sync`, {
      body: {
        operation: 'INSERT',
        mObjects: [
          { type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'chain-1' }, attributes: { Name: 'Chained' } },
          { type: 'OpportunityPersonRole', attributes: { PersonId: 19, Role: 'Buyer' }, associations: [{ type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'chain-1' } }] }
        ]
      }
    })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['created', 'created'])
    const role = gw.sim.store.roles.get(storeId('role', res.body.results[1]))
    assert.equal(role?.opportunityId, storeId('opportunity', res.body.results[0]))
  })

  it('a partial failure answers 207 with per-object statuses in input order', async () => {
    const res = await request(`${gw.url}/opportunities/roles`, {
      body: { operation: 'insert', roles: [{ ...opportunityOf(7), personId: 19, role: 'A' }, { ...opportunityOf(7), personId: 2_000_000, role: 'B' }, { ...opportunityOf(7), personId: 6, role: 'C' }] }
    })
    assert.equal(res.status, 207)
    assert.deepEqual(res.body.results.map((r: { index: number, status: string }) => [r.index, r.status]), [[0, 'created'], [1, 'failed'], [2, 'created']])
    assert.deepEqual(res.body.summary, { ...emptySummary, total: 3, created: 2, failed: 1 })
  })

  it(`250 objects are sent as calls of ${rest ? '250 (REST takes 300 a call)' : '100 + 100 + 50'}, results in input order`, async () => {
    const before = gw.sim.ledger.length
    const opportunities = Array.from({ length: 250 }, (_, i) => ({ externalKey: { name: 'opportunityId', value: `bulk-${i}` }, name: `Bulk ${i}`, amount: i }))
    const res = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities } })
    assert.equal(res.status, 200)
    const calls = gw.sim.ledger.slice(before)
    assert.deepEqual(calls.map((c) => c.objects?.length).sort((a, b) => (b ?? 0) - (a ?? 0)), rest ? [250] : [100, 100, 50])
    assert.equal(res.body.results.length, 250)
    res.body.results.forEach((r: { index: number, status: string, externalKey: { value: string }, id: number | null, marketoGUID?: string }, i: number) => {
      assert.equal(r.index, i)
      assert.equal(r.status, 'created')
      assert.equal(r.externalKey.value, `bulk-${i}`)
      assert.equal(gw.sim.store.opportunities.get(storeId('opportunity', r))?.fields.Name, `Bulk ${i}`)
    })
  })

  it('never more than 10 calls in flight to Marketo from one process', async () => {
    // Its own gateway with the rolling window off: the calls earlier tests made would otherwise
    // have the limiter space call starts out, and only the concurrency cap is under test here.
    const wide = await startGateway({ env: { MARKETO_RATE_LIMIT_WINDOW_MS: '0' } })
    wide.sim.knobs.setDefault({ latencyMs: 30 })
    try {
      const opportunities = Array.from({ length: 1000 }, (_, i) => ({ externalKey: { name: 'opportunityId', value: `wide-${i}` }, name: `Wide ${i}` }))
      const [a, b] = await Promise.all([
        request(`${wide.url}/opportunities`, { body: { operation: 'insert', opportunities } }),
        request(`${wide.url}/opportunities`, { body: { operation: 'insert', opportunities: opportunities.map((o) => ({ ...o, externalKey: { ...o.externalKey, value: o.externalKey.value + 'b' } })) } })
      ])
      assert.equal(a.status, 200)
      assert.equal(b.status, 200)
      // 1,000 objects a request: 10 calls of 100 on SOAP; 300 + 300 + 300 + 100 on REST, where the
      // two requests' last 100 may share one call (the coalescer merges chunks under 300).
      const total = wide.sim.stats.totalCalls
      assert.ok(rest ? total === 7 || total === 8 : total === 20, `${total} calls`)
      assert.ok(wide.sim.stats.peakConcurrent <= 10, `peak ${wide.sim.stats.peakConcurrent}`)
      assert.ok(wide.sim.stats.peakConcurrent >= 2, `peak ${wide.sim.stats.peakConcurrent}`)
    } finally {
      await wide.close()
    }
  })

  it('every response carries no-store, nosniff and the request id given', async () => {
    const res = await request(`${gw.url}/healthz`, { headers: { 'x-request-id': 'trace-123' } })
    assert.equal(res.headers.get('x-request-id'), 'trace-123')
    assert.equal(res.headers.get('cache-control'), 'no-store')
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff')
    const bad = await request(`${gw.url}/healthz`, { headers: { 'x-request-id': 'x'.repeat(500) } })
    assert.notEqual(bad.headers.get('x-request-id'), 'x'.repeat(500))
    assert.ok((bad.headers.get('x-request-id') ?? '').length <= 128)
    assert.ok(syncCalls(gw.sim) > 0)
  })
})
