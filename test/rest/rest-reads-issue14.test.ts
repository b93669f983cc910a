import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, assertRestRefusal, type TestGateway } from '../helpers/gateway.js'
import { loadSeed, toGuid } from '../../simulator/index.js'
import { MAX_REST_URI_BYTES, restReads } from '../../src/backends/rest/reads.js'
import type { RestRequest } from '../../src/backends/rest/client.js'
import type { CallHints } from '../../src/upstream/transport.js'

// Issue #14, point 1: reads use what the REST API offers (the simulator's REST face follows the
// docs): POST ?_method=GET past the 8 KB URI limit, the role's compound key, role lists by the
// opportunity's external key, several GUIDs in one call, and a field list built from the describe.

type RestEntry = NonNullable<TestGateway['sim']['ledger'][number]['rest']>

function reads (gw: TestGateway, from: number): RestEntry[] {
  return gw.sim.ledger.slice(from).flatMap((e) => e.rest === undefined || e.operation !== 'getMObjects' ? [] : [e.rest])
}

/** 150 custom opportunity fields with 60-character names: their `fields` list alone passes 8 KB. */
function wideSeed (): ReturnType<typeof loadSeed> {
  const seed = loadSeed()
  const names = Array.from({ length: 150 }, (_, i) => `WideCustomField${String(i).padStart(3, '0')}${'x'.repeat(42)}`)
  seed.opportunityFields.push(...names.map((name) => ({ name, dataType: 'string', size: 255, description: 'wide (custom)', isCustom: true })))
  const opp = seed.opportunities.find((o) => o.id === 64)
  if (opp === undefined) throw new Error('seed has no opportunity 64')
  opp.fields[names[149]] = 'the last wide field'
  return seed
}

describe('REST backend reads (issue #14)', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ backend: 'rest', simulator: { seed: wideSeed() } }) })
  after(async () => { await gw.close() })

  it('a read whose field list passes 8 KB goes as one POST ?_method=GET with a form body, and answers 200', async () => {
    const before = gw.sim.ledger.length
    const res = await request(`${gw.url}/opportunities?externalKey.name=opportunityId&externalKey.value=Opportunity_3`)
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.items.length, 1)
    assert.equal(res.body.items[0].marketoGUID, toGuid('opportunity', 64))
    assert.equal(res.body.items[0].customFields[`WideCustomField149${'x'.repeat(42)}`], 'the last wide field')
    const sent = reads(gw, before)
    assert.equal(sent.length, 1, JSON.stringify(sent))
    assert.equal(sent[0].method, 'POST')
    assert.equal(sent[0].query, '_method=GET')
    assert.equal(sent[0].contentType, 'application/x-www-form-urlencoded')
    const form = new URLSearchParams(String(sent[0].body))
    assert.equal(form.get('filterType'), 'externalOpportunityId')
    assert.equal(form.get('filterValues'), 'Opportunity_3')
    // The field list is the describe's: every wide field, the standard ones under their REST names.
    const fields = (form.get('fields') ?? '').split(',')
    assert.ok(Buffer.byteLength(form.get('fields') ?? '') > 8 * 1024)
    for (const f of ['marketoGUID', 'externalOpportunityId', 'name', 'amount', 'isWon', `WideCustomField000${'x'.repeat(42)}`]) assert.ok(fields.includes(f), f)
    assert.ok(!fields.includes('opportunityId'), 'the external key field travels as externalOpportunityId')
  })

  it('a role list by the opportunity\'s external key is one GET with filterType=externalOpportunityId', async () => {
    const before = gw.sim.ledger.length
    const res = await request(`${gw.url}/opportunities/roles?opportunity.externalKey.name=opportunityId&opportunity.externalKey.value=Opportunity_1`)
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.items.map((r: Record<string, unknown>) => [r.marketoGUID, r.personId, r.role, r.isPrimary, r.opportunity]), [
      [toGuid('role', 10), 19, 'Decision Maker', true, { externalKey: { name: 'opportunityId', value: 'Opportunity_1' } }]
    ])
    const sent = reads(gw, before)
    assert.equal(sent.length, 1)
    assert.equal(sent[0].method, 'GET')
    const q = new URLSearchParams(sent[0].query)
    assert.equal(q.get('filterType'), 'externalOpportunityId')
    assert.equal(q.get('filterValues'), 'Opportunity_1')
    assert.ok((q.get('fields') ?? '').split(',').includes('isPrimary'))
    const none = await request(`${gw.url}/opportunities/roles?opportunity.externalKey.name=opportunityId&opportunity.externalKey.value=Opportunity_3`)
    assert.deepEqual(none.body.items, [])
    const wrongKey = gw.sim.ledger.length
    assertRestRefusal(await request(`${gw.url}/opportunities/roles?opportunity.externalKey.name=Other&opportunity.externalKey.value=x`), gw.sim, wrongKey, /MARKETO_REST_EXTERNAL_KEY_FIELD/)
    const half = await request(`${gw.url}/opportunities/roles?opportunity.externalKey.value=x`)
    assert.equal(half.status, 400)
  })

  it('a role by its compound key (opportunity key, personId, role) is one POST ?_method=GET with a JSON dedupeFields query', async () => {
    const before = gw.sim.ledger.length
    const res = await request(`${gw.url}/opportunities/roles?opportunity.externalKey.name=opportunityId&opportunity.externalKey.value=Opportunity_1&personId=19&role=Decision%20Maker`)
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.items.map((r: Record<string, unknown>) => r.marketoGUID), [toGuid('role', 10)])
    const sent = reads(gw, before)
    assert.equal(sent.length, 1)
    assert.equal(sent[0].method, 'POST')
    assert.equal(sent[0].query, '_method=GET')
    assert.equal(sent[0].contentType, 'application/json')
    const body = sent[0].body as Record<string, unknown>
    assert.equal(body.filterType, 'dedupeFields')
    assert.deepEqual(body.input, [{ externalOpportunityId: 'Opportunity_1', leadId: 19, role: 'Decision Maker' }])
    const other = await request(`${gw.url}/opportunities/roles?opportunity.externalKey.name=opportunityId&opportunity.externalKey.value=Opportunity_1&personId=19&role=Influencer`)
    assert.deepEqual(other.body.items, [])
    // A role without the rest of its key is not something REST can filter by.
    const partial = gw.sim.ledger.length
    assertRestRefusal(await request(`${gw.url}/opportunities/roles?personId=19&role=Decision%20Maker`), gw.sim, partial, /whole compound key/)
  })

  it('several marketoGUIDs are read in calls of at most 300 filterValues', async () => {
    const before = gw.sim.ledger.length
    const guids = [toGuid('opportunity', 4), toGuid('opportunity', 7), toGuid('opportunity', 999_999)]
    const res = await request(`${gw.url}/opportunities?${guids.map((g) => `marketoGUID=${g}`).join('&')}`)
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.items.map((o: { marketoGUID: string }) => o.marketoGUID), guids.slice(0, 2))
    const sent = reads(gw, before)
    assert.equal(sent.length, 1)
    // This instance's field list passes 8 KB, so the read goes as a form.
    assert.equal(sent[0].query, '_method=GET')
    assert.equal(new URLSearchParams(String(sent[0].body)).get('filterValues'), guids.join(','))
    // 301 GUIDs: two calls, 300 and 1 (the seed has opportunities 4, 7 and 64).
    const many = Array.from({ length: 301 }, (_, i) => toGuid('opportunity', 301 - i))
    const from = gw.sim.ledger.length
    const split = await request(`${gw.url}/opportunities?${many.map((g) => `marketoGUID=${g}`).join('&')}`)
    assert.equal(split.status, 200, split.text.slice(0, 300))
    assert.deepEqual(split.body.items.map((o: { marketoGUID: string }) => o.marketoGUID), [toGuid('opportunity', 64), toGuid('opportunity', 7), toGuid('opportunity', 4)])
    assert.equal(split.body.notFound.length, 298)
    assert.deepEqual(reads(gw, from).map((e) => new URLSearchParams(String(e.body)).get('filterValues')?.split(',').length), [300, 1])
    const roles = await request(`${gw.url}/opportunities/roles?marketoGUID=${toGuid('role', 10)}&marketoGUID=${toGuid('role', 11)}`)
    assert.equal(roles.status, 200, roles.text)
    assert.deepEqual(roles.body.items.map((r: { marketoGUID: string }) => r.marketoGUID), [toGuid('role', 10)])
  })

  it('GET /programs?name= is one Get Program by Name with tags and costs; a tag type without its value answers 400 before any call', async () => {
    const before = gw.sim.ledger.length
    const res = await request(`${gw.url}/programs?name=Summer%20Webinar%20Series`)
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.items.map((p: Record<string, unknown>) => [p.id, p.channel, p.folderName, p.costs]), [
      [1970, 'Webinar', 'Webinars', [{ month: '2013-05', amount: 1200, note: 'Kick-off' }, { month: '2013-06', amount: 1500 }]]
    ])
    assert.equal(res.body.nextCursor, null)
    const sent = reads(gw, before)
    assert.equal(sent.length, 1)
    assert.equal(sent[0].method, 'GET')
    assert.equal(sent[0].path, '/rest/asset/v1/program/byName.json')
    assert.deepEqual(Object.fromEntries(new URLSearchParams(sent[0].query)), { name: 'Summer Webinar Series', includeTags: 'true', includeCosts: 'true' })
    const none = await request(`${gw.url}/programs?name=No%20such%20program`)
    assert.equal(none.status, 200, none.text)
    assert.deepEqual(none.body, { items: [], nextCursor: null })
    const refused = gw.sim.ledger.length
    assertRestRefusal(await request(`${gw.url}/programs?tagType=Channel`), gw.sim, refused, /tagType and tagValue/)
  })
})

describe('SOAP backend: role lists by the opportunity\'s external key', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ backend: 'soap' }) })
  after(async () => { await gw.close() })

  it('the same query answers from getMObjects with an Opportunity association by external key', async () => {
    const res = await request(`${gw.url}/opportunities/roles?opportunity.externalKey.name=opportunityId&opportunity.externalKey.value=Opportunity_1`)
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.items.map((r: { id: number }) => r.id), [10])
    const guid = await request(`${gw.url}/opportunities?marketoGUID=${toGuid('opportunity', 4)}`)
    assert.equal(guid.status, 400)
    assert.match(guid.body.detail, /marketoGUID/)
  })
})

describe('the 8 KB rule, at its edge', () => {
  // A stub sender: what the read would send, nothing sent.
  const sent: RestRequest[] = []
  const client = { send: async (req: RestRequest, _hints: CallHints) => { sent.push(req); return { success: true, result: [] } } }
  const hints = {} as CallHints
  /** The request a read of one custom field `name` makes, for an endpoint below `endpointPath`. */
  async function readWith (name: string, endpointPath: string): Promise<RestRequest> {
    sent.length = 0
    const call = restReads(client, { externalKeyField: 'opportunityId', endpointPath }).getMObjects({ type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'k' }, fields: [name] })
    await call.send(hints)
    assert.equal(sent.length, 1)
    return sent[0]
  }
  const uri = (req: RestRequest, endpointPath: string): number => Buffer.byteLength(`${endpointPath}${req.path}?${new URLSearchParams(req.query).toString()}`)

  it('a URI of exactly 8,192 bytes (endpoint path included) is a GET; one byte more is a POST ?_method=GET carrying the same parameters', async () => {
    for (const endpointPath of ['', '/marketo']) {
      const probe = await readWith('x', endpointPath)
      const name = 'x'.repeat(1 + MAX_REST_URI_BYTES - uri(probe, endpointPath))
      const atLimit = await readWith(name, endpointPath)
      assert.equal(atLimit.method, 'GET')
      assert.equal(uri(atLimit, endpointPath), MAX_REST_URI_BYTES)
      const over = await readWith(name + 'x', endpointPath)
      assert.equal(over.method, 'POST')
      assert.deepEqual(over.query, { _method: 'GET' })
      assert.equal(over.contentType, 'application/x-www-form-urlencoded')
      assert.equal(new URLSearchParams(over.body).get('fields')?.split(',').at(-1), name + 'x')
    }
  })
})
