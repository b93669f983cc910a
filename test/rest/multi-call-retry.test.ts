import { describe, it, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, type TestGateway } from '../helpers/gateway.js'

// Issue #12, defect 1: a /mobjects/sync batch that becomes several REST calls. When a later call
// meets a rate or concurrency fault (606/615: not executed), only that call may be re-sent; the
// calls already applied must not be sent again, and every status comes from the call that carried it.

function restPaths (gw: TestGateway, from: number): string[] {
  return gw.sim.ledger.slice(from).flatMap((e) => e.rest === undefined || e.rest.path.includes('/identity/') ? [] : [`${e.rest.method} ${e.rest.path}`])
}

/** INSERT of an opportunity and a role linked to it by external key: two REST calls. */
async function insertWithRole (gw: TestGateway, value: string): ReturnType<typeof request> {
  return await request(`${gw.url}/mobjects/sync`, {
    body: {
      operation: 'INSERT',
      mObjects: [
        { type: 'Opportunity', externalKey: { name: 'opportunityId', value }, attributes: { Name: value } },
        { type: 'OpportunityPersonRole', attributes: { PersonId: 19, Role: 'Buyer' }, associations: [{ type: 'Opportunity', externalKey: { name: 'opportunityId', value } }] }
      ]
    }
  })
}

describe('REST: a retry re-sends only the calls that were not applied', () => {
  let gw: TestGateway
  before(async () => {
    gw = await startGateway({ backend: 'rest', env: { COALESCE_WINDOW_MS: '0', MARKETO_RATE_LIMIT_WINDOW_MS: '0' } })
    // A first call fetches the access token, so the knobs below act on the calls under test.
    const warm = await request(`${gw.url}/opportunities`, { body: { opportunities: [{ externalKey: { name: 'opportunityId', value: 'warm-up' }, name: 'Warm up' }] } })
    assert.equal(warm.status, 200, warm.text)
    // The describe the generic route checks Opportunity attributes against (VALIDATE_CUSTOM_FIELDS,
    // on by default on REST) is cached here too, so the knobs act on the write calls under test.
    const describe = await request(`${gw.url}/mobjects/Opportunity/describe`)
    assert.equal(describe.status, 200, describe.text)
  })
  after(async () => { await gw.close() })
  beforeEach(() => { gw.sim.knobs.clear() })

  for (const fault of [20024, 20023]) {
    it(`program cost line + opportunity update, ${fault === 20024 ? '615' : '606'} on the second call: the cost line is appended once`, async () => {
      const oppId = [...gw.sim.store.opportunities.values()].find((o) => o.fields.opportunityId === 'warm-up')?.id as number
      const before = gw.sim.store.programs.get(1970)?.costs.length ?? 0
      const ledgerBefore = gw.sim.ledger.length
      gw.sim.knobs.enqueue({ latencyMs: 1 })
      gw.sim.knobs.enqueue({ fault })
      const res = await request(`${gw.url}/mobjects/sync`, {
        body: {
          operation: 'UPDATE',
          mObjects: [
            { type: 'Program', id: 1970, typeAttributes: [{ type: 'Cost', attributes: { Month: '2014-02', Amount: 300, Note: `once-${fault}` } }] },
            { type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'warm-up' }, attributes: { Stage: `Retry ${fault}` } }
          ]
        }
      })
      assert.equal(res.status, 200, res.text)
      assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['updated', 'updated'])
      const costs = gw.sim.store.programs.get(1970)?.costs ?? []
      assert.equal(costs.length, before + 1, 'one cost line appended')
      assert.equal(costs.filter((c) => c.note === `once-${fault}`).length, 1)
      assert.equal(gw.sim.store.opportunities.get(oppId)?.fields.Stage, `Retry ${fault}`)
      // Program once, opportunities twice (the fault, then the retry).
      assert.deepEqual(restPaths(gw, ledgerBefore), ['POST /rest/asset/v1/program/1970.json', 'POST /rest/v1/opportunities.json', 'POST /rest/v1/opportunities.json'])
    })
  }

  it('INSERT of an opportunity and its role, 615 on the roles call: the opportunity is reported created, the role created', async () => {
    const value = 'multi-insert-1'
    const ledgerBefore = gw.sim.ledger.length
    gw.sim.knobs.enqueue({ latencyMs: 1 })
    gw.sim.knobs.enqueue({ fault: 20024 })
    const res = await insertWithRole(gw, value)
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['created', 'created'])
    const stored = [...gw.sim.store.opportunities.values()].filter((o) => o.fields.opportunityId === value)
    assert.equal(stored.length, 1)
    assert.equal([...gw.sim.store.roles.values()].filter((r) => r.opportunityId === stored[0].id).length, 1)
    assert.deepEqual(restPaths(gw, ledgerBefore), ['POST /rest/v1/opportunities.json', 'POST /rest/v1/opportunities/roles.json', 'POST /rest/v1/opportunities/roles.json'])
  })

  it('a call that fails for good after earlier ones applied: their statuses stay, the failed call\'s objects are not_applied', async () => {
    const value = 'multi-insert-2'
    gw.sim.knobs.enqueue({ latencyMs: 1 })
    gw.sim.knobs.enqueue({ fault: 1003 })
    const res = await insertWithRole(gw, value)
    assert.equal(res.status, 502, res.text)
    assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['created', 'not_applied'])
    assert.equal(res.body.results[1].error.code, 'UPSTREAM_REJECTED')
    assert.equal([...gw.sim.store.opportunities.values()].filter((o) => o.fields.opportunityId === value).length, 1)
  })
})
