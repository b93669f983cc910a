import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, type TestGateway } from '../helpers/gateway.js'

const summary = { total: 0, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0, deleted: 0, unknown: 0, notApplied: 0 }
const deleteCalls = (gw: TestGateway): number => gw.sim.ledger.filter((e) => e.operation === 'deleteMObjects').length

describe('delete routes against the simulator', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ simulator: { limits: { rateLimit: null } }, env: { MARKETO_RATE_LIMIT_WINDOW_MS: '0' } }) })
  after(async () => { await gw.close() })

  it('DELETE /opportunities/{id}, then reading it gives 404, and its roles are gone too', async () => {
    assert.equal((await request(`${gw.url}/opportunities/4`)).status, 200)
    const res = await request(`${gw.url}/opportunities/4`, { method: 'DELETE' })
    assert.equal(res.status, 200)
    assert.deepStrictEqual(res.body, { index: 0, id: 4, status: 'deleted' })
    assert.deepStrictEqual(gw.sim.ledger.at(-1)?.objects, [{ type: 'Opportunity', id: 4 }])
    const read = await request(`${gw.url}/opportunities/4`)
    assert.equal(read.status, 404)
    assert.equal(read.body.code, 'NOT_FOUND')
    assert.equal((await request(`${gw.url}/opportunities/roles/10`)).status, 404)
    const again = await request(`${gw.url}/opportunities/4`, { method: 'DELETE' })
    assert.deepStrictEqual(again.body, { index: 0, id: 4, status: 'unchanged' })
  })

  it('DELETE /opportunities/roles/{id}', async () => {
    const created = await request(`${gw.url}/opportunities/roles`, { body: { roles: [{ opportunityId: 64, personId: 6, role: 'Champion' }] } })
    const id = created.body.results[0].id
    assert.equal((await request(`${gw.url}/opportunities/roles/${id}`)).status, 200)
    const res = await request(`${gw.url}/opportunities/roles/${id}`, { method: 'DELETE' })
    assert.deepStrictEqual(res.body, { index: 0, id, status: 'deleted' })
    assert.deepStrictEqual(gw.sim.ledger.at(-1)?.objects, [{ type: 'OpportunityPersonRole', id }])
    assert.equal((await request(`${gw.url}/opportunities/roles/${id}`)).status, 404)
    assert.equal((await request(`${gw.url}/opportunities/64`)).status, 200)
  })

  it('POST /mobjects/delete: 150 objects in two calls, results in input order', async () => {
    const created = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: Array.from({ length: 149 }, (_, i) => ({ name: `Doomed ${i}` })) } })
    const ids: number[] = created.body.results.map((r: { id: number }) => r.id)
    const before = deleteCalls(gw)
    const objects = [...ids.map((id) => ({ type: 'Opportunity', id })), { type: 'Opportunity', id: 2_000_000 }]
    const res = await request(`${gw.url}/mobjects/delete`, { body: { objects } })
    assert.equal(res.status, 200)
    assert.deepStrictEqual(res.body, {
      requestId: res.headers.get('x-request-id'),
      operation: 'delete',
      summary: { ...summary, total: 150, deleted: 149, unchanged: 1 },
      results: [...ids.map((id, index) => ({ index, id, status: 'deleted' })), { index: 149, id: 2_000_000, status: 'unchanged' }]
    })
    assert.equal(deleteCalls(gw), before + 2)
    const left = await request(`${gw.url}/opportunities?name=Doomed%200`)
    assert.deepStrictEqual(left.body.items, [])
  })

  it('a failed object answers 207 with its error', async () => {
    gw.sim.knobs.enqueue({ failObjects: [1] })
    const res = await request(`${gw.url}/mobjects/delete`, { body: { objects: [{ type: 'Opportunity', id: 7 }, { type: 'Opportunity', id: 64 }] } })
    assert.equal(res.status, 207)
    assert.deepStrictEqual(res.body.results, [
      { index: 0, id: 7, status: 'deleted' },
      { index: 1, id: 64, status: 'failed', error: { code: 'MARKETO_OBJECT_FAILED', message: 'Simulated failure (injected)' } }
    ])
    gw.sim.knobs.enqueue({ failObjects: [0] })
    const single = await request(`${gw.url}/opportunities/64`, { method: 'DELETE' })
    assert.equal(single.status, 207)
    assert.equal(single.body.status, 'failed')
    assert.equal((await request(`${gw.url}/opportunities/64`)).status, 200)
  })

  it('a fault answers a problem with not_applied results, and a lost connection is not retried', async () => {
    gw.sim.knobs.enqueue({ fault: 20014 })
    const res = await request(`${gw.url}/opportunities/64`, { method: 'DELETE' })
    assert.equal(res.status, 502)
    assert.equal(res.body.code, 'UPSTREAM_AUTH')
    assert.deepStrictEqual(res.body.results, [{ index: 0, id: 64, status: 'not_applied', error: { code: 'UPSTREAM_AUTH', message: res.body.detail } }])
    const before = deleteCalls(gw)
    gw.sim.knobs.enqueue({ resetAfterApply: true })
    const lost = await request(`${gw.url}/opportunities/64`, { method: 'DELETE' })
    assert.equal(lost.status, 502)
    assert.equal(lost.body.code, 'UPSTREAM_CONNECTION_LOST')
    assert.equal(lost.body.results[0].status, 'unknown')
    assert.equal(deleteCalls(gw), before + 1)
  })

  it('refuses bad batches before any call', async () => {
    const before = deleteCalls(gw)
    for (const body of [{ objects: [] }, { objects: [{ type: 'Program', id: 1970 }] }, { objects: [{ type: 'Opportunity', id: 0 }] }, { objects: [{ type: 'Opportunity', id: 1, extra: 1 }] }]) {
      const res = await request(`${gw.url}/mobjects/delete`, { body })
      assert.equal(res.status, 400, JSON.stringify(body))
    }
    assert.equal((await request(`${gw.url}/opportunities/abc`, { method: 'DELETE' })).status, 400)
    assert.equal(deleteCalls(gw), before)
  })
})
