import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, assertRestRefusal, type TestGateway } from '../helpers/gateway.js'
import { loadSeed } from '../../simulator/index.js'
import { isIdempotentWrite } from '../../src/domain/model.js'

// Issue #14: writes on REST use what the API offers (costsDestructiveUpdate) and refuse what it
// cannot do (a channel after creation, an opportunity insert without name) with a 400 before any
// call. The simulator's REST face follows programs.md and opportunities.md.

const emptySummary = { total: 0, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0, deleted: 0, unknown: 0, notApplied: 0 }

/** An instance whose opportunity describe lists externalCompanyId (the simulator's seed does not). */
function companySeed (): ReturnType<typeof loadSeed> {
  const seed = loadSeed()
  seed.opportunityFields.push({ name: 'externalCompanyId', dataType: 'string', size: 100, description: 'The company\'s external id', isCustom: true })
  return seed
}

describe('REST backend writes (issue #14)', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ backend: 'rest', simulator: { seed: companySeed() } }) })
  after(async () => { await gw.close() })

  it('"replace": true replaces every cost line of the program (costsDestructiveUpdate=true), and a repeat leaves the same lines', async () => {
    assert.deepEqual(gw.sim.store.programs.get(1970)?.costs.map((c) => [c.month, c.amount]), [['2013-05', '1200'], ['2013-06', '1500']])
    const body = { costs: [{ month: '2014-01', amount: 300, note: 'Only line' }, { month: '2014-02', amount: 400 }], replace: true }
    for (let i = 0; i < 2; i++) {
      const res = await request(`${gw.url}/programs/1970/costs`, { body })
      assert.equal(res.status, 200, res.text)
      assert.deepEqual(res.body.results, [{ index: 0, id: 1970, status: 'updated' }])
      assert.deepEqual(gw.sim.store.programs.get(1970)?.costs.map((c) => [c.month, c.amount, c.note]), [['2014-01', '300', 'Only line'], ['2014-02', '400', undefined]])
      const entry = gw.sim.ledger.at(-1)?.rest
      assert.equal(entry?.contentType, 'application/x-www-form-urlencoded')
      assert.deepEqual(entry?.body, { costs: [{ startDate: '2014-01-01', cost: 300, note: 'Only line' }, { startDate: '2014-02-01', cost: 400 }], costsDestructiveUpdate: 'true' })
    }
    // Without it, costs are appended, as before.
    const appended = await request(`${gw.url}/programs/1970/costs`, { body: { costs: [{ month: '2014-03', amount: 1 }], replace: false } })
    assert.equal(appended.status, 200, appended.text)
    assert.equal(gw.sim.store.programs.get(1970)?.costs.length, 3)
    assert.equal((gw.sim.ledger.at(-1)?.rest?.body as Record<string, unknown>).costsDestructiveUpdate, undefined)
    // The dry run shows the form field.
    const dry = await request(`${gw.url}/programs/1970/costs?dryRun=true`, { body })
    assert.equal(dry.status, 200, dry.text)
    assert.match(dry.body.calls[0].envelope, /costsDestructiveUpdate=true/)
  })

  it('a Channel tag answers 400 with zero calls: REST sets the channel only at program creation', async () => {
    const before = gw.sim.ledger.length
    const res = await request(`${gw.url}/programs/1002/tags`, { body: { tags: [{ type: 'Product Line', value: 'Tea' }, { type: 'Channel', value: 'Webinar' }] } })
    assertRestRefusal(res, gw.sim, before, /channel only when the program is created/)
    assert.deepEqual(res.body.errors, [{ path: '/tags/1/type', message: res.body.errors[0].message }])
    assert.equal(gw.sim.ledger.length, before, 'no call at all, not even a token')
    assert.deepEqual(gw.sim.store.programs.get(1002)?.tags, [{ type: 'Channel', value: 'Content' }, { type: 'Product Line', value: 'Coffee' }])
    // Through the generic route as well.
    const generic = await request(`${gw.url}/mobjects/sync`, { body: { operation: 'UPDATE', mObjects: [{ type: 'Program', id: 1002, typeAttributes: [{ type: 'Tag', attributes: { Type: 'Channel', Value: 'Webinar' } }] }] } })
    assertRestRefusal(generic, gw.sim, before, /channel only when the program is created/)
  })

  it('a company link travels as externalCompanyId and reads back as company.externalKey; a company id answers 400 with zero calls', async () => {
    const company = { externalKey: { name: 'externalCompanyId', value: 'ACME-1' } }
    const res = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ externalKey: { name: 'opportunityId', value: 'with-company' }, name: 'With company', company }] } })
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(gw.sim.ledger.at(-1)?.rest?.body, { action: 'createOnly', dedupeBy: 'dedupeFields', input: [{ externalOpportunityId: 'with-company', externalCompanyId: 'ACME-1', name: 'With company' }] })
    const read = await request(`${gw.url}/opportunities?externalKey.name=opportunityId&externalKey.value=with-company`)
    assert.equal(read.status, 200, read.text)
    assert.deepEqual(read.body.items[0].company, company)
    assert.deepEqual(read.body.items[0].customFields, {}, 'externalCompanyId is the company link, not a custom field')
    for (const bad of [{ id: 1 }, { externalKey: { name: 'cAccountFSID', value: 'C123' } }]) {
      const before = gw.sim.ledger.length
      const refused = await request(`${gw.url}/opportunities`, { body: { opportunities: [{ externalKey: { name: 'opportunityId', value: 'x' }, name: 'x', company: bad }] } })
      assertRestRefusal(refused, gw.sim, before, /by the company's externalCompanyId only/)
      assert.deepEqual(refused.body.errors.map((e: { path: string }) => e.path), ['/opportunities/0/company'])
    }
  })

  it('roles are deleted by their dedupe key (opportunity externalKey, personId, role): one deleteBy dedupeFields call', async () => {
    assert.ok(gw.sim.store.roles.has(10))
    const key = (role: string) => ({ type: 'OpportunityPersonRole', opportunity: { externalKey: { name: 'opportunityId', value: 'Opportunity_1' } }, personId: 19, role })
    const before = gw.sim.ledger.length
    const res = await request(`${gw.url}/mobjects/delete`, { body: { objects: [key('Decision Maker'), key('Nobody')] } })
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['deleted', 'unchanged'])
    assert.equal(gw.sim.store.roles.has(10), false)
    const calls = gw.sim.ledger.slice(before)
    assert.equal(calls.length, 1)
    assert.equal(calls[0].rest?.path, '/rest/v1/opportunities/roles/delete.json')
    assert.deepEqual(calls[0].rest?.body, { deleteBy: 'dedupeFields', input: [{ externalOpportunityId: 'Opportunity_1', leadId: 19, role: 'Decision Maker' }, { externalOpportunityId: 'Opportunity_1', leadId: 19, role: 'Nobody' }] })
    const wrongKey = gw.sim.ledger.length
    assertRestRefusal(await request(`${gw.url}/mobjects/delete`, { body: { objects: [{ ...key('x'), opportunity: { externalKey: { name: 'Other', value: 'x' } } }] } }), gw.sim, wrongKey, /MARKETO_REST_EXTERNAL_KEY_FIELD/)
  })

  it('an opportunity insert without name answers 400 with zero calls; an upsert without one is Marketo\'s to judge', async () => {
    const before = gw.sim.ledger.length
    const res = await request(`${gw.url}/opportunities`, {
      body: { operation: 'insert', opportunities: [{ externalKey: { name: 'opportunityId', value: 'named' }, name: 'Named' }, { externalKey: { name: 'opportunityId', value: 'nameless' }, stage: 'New' }] }
    })
    assertRestRefusal(res, gw.sim, before, /an insert needs name/)
    assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path), ['/opportunities/1/name'])
    assert.equal(gw.sim.ledger.length, before)
    assert.equal(gw.sim.store.findOpportunities((o) => o.fields.opportunityId === 'named').length, 0, 'the whole request is refused')
    const empty = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ externalKey: { name: 'opportunityId', value: 'nameless' }, name: '' }] } })
    assert.equal(empty.status, 400)
    // An upsert may update an existing record, which needs no name; a new one Marketo fails (1003).
    const upsert = await request(`${gw.url}/opportunities`, { body: { operation: 'upsert', opportunities: [{ externalKey: { name: 'opportunityId', value: 'Opportunity_3' }, stage: 'Upserted' }, { externalKey: { name: 'opportunityId', value: 'nameless' }, stage: 'New' }] } })
    assert.equal(upsert.status, 207, upsert.text)
    assert.deepEqual(upsert.body.results.map((r: { status: string }) => r.status), ['updated', 'failed'])
    assert.match(upsert.body.results[1].error.message, /\(1003\)$/)
    assert.deepEqual(upsert.body.summary, { ...emptySummary, total: 2, updated: 1, failed: 1 })
  })
})

it('a cost write that replaces all lines may be re-sent after an unknown outcome; one that appends may not', () => {
  const costs = [{ attrType: 'Cost', attribs: [{ name: 'Month', value: '2014-01' }, { name: 'Amount', value: '1' }] }]
  assert.equal(isIdempotentWrite('UPDATE', [{ type: 'Program', id: 1970, typeAttribs: costs, replaceCosts: true }]), true)
  assert.equal(isIdempotentWrite('UPDATE', [{ type: 'Program', id: 1970, typeAttribs: costs }]), false)
})

describe('SOAP backend: "replace": true has no SOAP meaning', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ backend: 'soap' }) })
  after(async () => { await gw.close() })

  it('answers 400 before any call; the same costs without it update by id', async () => {
    const before = gw.sim.ledger.length
    const res = await request(`${gw.url}/programs/1970/costs`, { body: { costs: [{ month: '2013-06', amount: 2000, id: 153 }], replace: true } })
    assert.equal(res.status, 400, res.text)
    assert.equal(res.body.code, 'VALIDATION_FAILED')
    assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path), ['/replace'])
    assert.match(res.body.detail, /REST-only/)
    assert.equal(gw.sim.ledger.length, before)
    const ok = await request(`${gw.url}/programs/1970/costs`, { body: { costs: [{ month: '2013-06', amount: 2000, id: 153 }], replace: false } })
    assert.equal(ok.status, 200, ok.text)
    // A role by its REST dedupe key is not a SOAP delete either.
    const role = await request(`${gw.url}/mobjects/delete`, { body: { objects: [{ type: 'OpportunityPersonRole', opportunity: { externalKey: { name: 'opportunityId', value: 'Opportunity_1' } }, personId: 19, role: 'Decision Maker' }] } })
    assert.equal(role.status, 400, role.text)
    assert.match(role.body.detail, /deletes by id only/)
  })
})
