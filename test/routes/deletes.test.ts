import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, assertRestRefusal, storeId, upstreamCalls, TEST_BACKEND, type TestGateway } from '../helpers/gateway.js'
import { toGuid } from '../../simulator/index.js'

const summary = { total: 0, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0, deleted: 0, unknown: 0, notApplied: 0 }
const deleteCalls = (gw: TestGateway): number => upstreamCalls(gw.sim, 'deleteMObjects')
const rest = TEST_BACKEND === 'rest'

// The REST backend names opportunities and roles by marketoGUID, never by the SOAP integer ids, so
// DELETE /opportunities/{id} and /opportunities/roles/{id} answer 400 there; its equivalent is
// POST /mobjects/delete by marketoGUID, whose results carry the marketoGUID and a null id.
const target = (type: 'Opportunity' | 'OpportunityPersonRole', id: number) =>
  rest ? { type, marketoGUID: toGuid(type === 'Opportunity' ? 'opportunity' : 'role', id) } : { type, id }
const result = (index: number, type: 'Opportunity' | 'OpportunityPersonRole', id: number, status: string, extra: Record<string, unknown> = {}) =>
  rest ? { index, id: null, marketoGUID: toGuid(type === 'Opportunity' ? 'opportunity' : 'role', id), status, ...extra } : { index, id, status, ...extra }

describe('delete routes against the simulator', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ simulator: { limits: { rateLimit: null } }, env: { MARKETO_RATE_LIMIT_WINDOW_MS: '0' } }) })
  after(async () => { await gw.close() })

  /** Whether the opportunity or role exists, read through the gateway (by id on SOAP, by marketoGUID on REST). */
  async function exists (type: 'Opportunity' | 'OpportunityPersonRole', id: number): Promise<boolean> {
    const path = type === 'Opportunity' ? '/opportunities' : '/opportunities/roles'
    if (!rest) {
      const res = await request(`${gw.url}${path}/${id}`)
      assert.ok(res.status === 200 || res.status === 404, res.text)
      if (res.status === 404) assert.equal(res.body.code, 'NOT_FOUND')
      return res.status === 200
    }
    const res = await request(`${gw.url}${path}?marketoGUID=${target(type, id).marketoGUID}`)
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.nextCursor, null)
    return res.body.items.length === 1
  }

  /** DELETE /opportunities/{id} (or /opportunities/roles/{id}); on REST, which refuses it, the same delete through POST /mobjects/delete. */
  async function deleteOne (type: 'Opportunity' | 'OpportunityPersonRole', id: number): Promise<{ status: number, body: any }> {
    const path = type === 'Opportunity' ? `/opportunities/${id}` : `/opportunities/roles/${id}`
    if (!rest) return await request(`${gw.url}${path}`, { method: 'DELETE' })
    const before = gw.sim.ledger.length
    assertRestRefusal(await request(`${gw.url}${path}`, { method: 'DELETE' }), gw.sim, before, /integer ids are SOAP-only/)
    const res = await request(`${gw.url}/mobjects/delete`, { body: { objects: [target(type, id)] } })
    if (res.body?.operation !== 'delete') return res
    assert.equal(res.body.summary.total, 1)
    return { status: res.status, body: res.body.results[0] }
  }

  it('DELETE /opportunities/{id}, then reading it gives 404, and its roles are gone too', async () => {
    assert.equal(await exists('Opportunity', 4), true)
    const res = await deleteOne('Opportunity', 4)
    assert.equal(res.status, 200)
    assert.deepStrictEqual(res.body, result(0, 'Opportunity', 4, 'deleted'))
    assert.deepStrictEqual(gw.sim.ledger.at(-1)?.objects, [{ type: 'Opportunity', id: 4 }])
    assert.equal(await exists('Opportunity', 4), false)
    assert.equal(await exists('OpportunityPersonRole', 10), false)
    const again = await deleteOne('Opportunity', 4)
    assert.deepStrictEqual(again.body, result(0, 'Opportunity', 4, 'unchanged'))
  })

  it('DELETE /opportunities/roles/{id}', async () => {
    // REST names a role's opportunity by its external key (64's is Opportunity_3).
    const opportunity = rest ? { opportunity: { externalKey: { name: 'opportunityId', value: 'Opportunity_3' } } } : { opportunityId: 64 }
    const created = await request(`${gw.url}/opportunities/roles`, { body: { roles: [{ ...opportunity, personId: 6, role: 'Champion' }] } })
    assert.equal(created.status, 200, created.text)
    const id = storeId('role', created.body.results[0])
    assert.equal(await exists('OpportunityPersonRole', id), true)
    const res = await deleteOne('OpportunityPersonRole', id)
    assert.deepStrictEqual(res.body, result(0, 'OpportunityPersonRole', id, 'deleted'))
    assert.deepStrictEqual(gw.sim.ledger.at(-1)?.objects, [{ type: 'OpportunityPersonRole', id }])
    assert.equal(await exists('OpportunityPersonRole', id), false)
    assert.equal(await exists('Opportunity', 64), true)
  })

  it('POST /mobjects/delete: 150 objects in two calls of at most 100 (one call of up to 300 on REST), results in input order', async () => {
    const created = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: Array.from({ length: 149 }, (_, i) => ({ externalKey: { name: 'opportunityId', value: `doomed-${i}` }, name: `Doomed ${i}` })) } })
    assert.equal(created.status, 200, created.text.slice(0, 300))
    const ids: number[] = created.body.results.map((r: { id: number | null, marketoGUID?: string }) => storeId('opportunity', r))
    const before = deleteCalls(gw)
    const objects = [...ids.map((id) => target('Opportunity', id)), target('Opportunity', 2_000_000)]
    const res = await request(`${gw.url}/mobjects/delete`, { body: { objects } })
    assert.equal(res.status, 200)
    assert.deepStrictEqual(res.body, {
      requestId: res.headers.get('x-request-id'),
      operation: 'delete',
      summary: { ...summary, total: 150, deleted: 149, unchanged: 1 },
      results: [...ids.map((id, index) => result(index, 'Opportunity', id, 'deleted')), result(149, 'Opportunity', 2_000_000, 'unchanged')]
    })
    assert.equal(deleteCalls(gw), before + (rest ? 1 : 2))
    const left = await request(`${gw.url}/opportunities?externalKey.name=opportunityId&externalKey.value=doomed-0`)
    assert.equal(left.status, 200, left.text)
    assert.deepStrictEqual(left.body.items, [])
  })

  it('a failed object answers 207 with its error', async () => {
    gw.sim.knobs.enqueue({ failObjects: [1] })
    const res = await request(`${gw.url}/mobjects/delete`, { body: { objects: [target('Opportunity', 7), target('Opportunity', 64)] } })
    assert.equal(res.status, 207)
    assert.deepStrictEqual(res.body.results, [
      result(0, 'Opportunity', 7, 'deleted'),
      // REST: the record's reason code ends the message (1003, invalid data).
      result(1, 'Opportunity', 64, 'failed', { error: { code: 'MARKETO_OBJECT_FAILED', message: rest ? 'Simulated failure (injected) (1003)' : 'Simulated failure (injected)' } })
    ])
    gw.sim.knobs.enqueue({ failObjects: [0] })
    const single = await deleteOne('Opportunity', 64)
    assert.equal(single.status, 207)
    assert.equal(single.body.status, 'failed')
    assert.equal(await exists('Opportunity', 64), true)
  })

  it('a fault answers a problem with not_applied results, and a lost connection is not retried', async () => {
    gw.sim.knobs.enqueue({ fault: 20014 })
    const res = await deleteOne('Opportunity', 64)
    assert.equal(res.status, 502)
    assert.equal(res.body.code, 'UPSTREAM_AUTH')
    assert.deepStrictEqual(res.body.results, [result(0, 'Opportunity', 64, 'not_applied', { error: { code: 'UPSTREAM_AUTH', message: res.body.detail } })])
    const before = deleteCalls(gw)
    gw.sim.knobs.enqueue({ resetAfterApply: true })
    const lost = await deleteOne('Opportunity', 64)
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
