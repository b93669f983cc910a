import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { startGateway, request, assertRestRefusal, storeId, syncCalls, upstreamCalls, TEST_BACKEND, type JsonResponse, type TestGateway } from '../helpers/gateway.js'
import { toGuid } from '../../simulator/index.js'
import { filterHash } from '../../src/http/routes/cursor.js'

// Marketo's 100 calls per 20 s would make these tests wait: both limits off.
const unlimited = { simulator: { limits: { rateLimit: null } }, env: { MARKETO_RATE_LIMIT_WINDOW_MS: '0' } }
const calls = (gw: TestGateway, operation: string): number => upstreamCalls(gw.sim, operation)
const rest = TEST_BACKEND === 'rest'
const key64 = { name: 'opportunityId', value: 'Opportunity_3' }

const seeded64 = {
  id: 64,
  name: 'Q1 2014',
  amount: 2000,
  probability: 80,
  closeDate: '2014-03-31',
  stage: 'Negotiation',
  customFields: { opportunityId: 'Opportunity_3', cAccountFSID: 'C123' },
  company: { id: 1 },
  createdAt: '2013-07-30T12:00:00.000Z',
  updatedAt: '2013-07-30T12:00:00.000Z'
}

// The same opportunity read through the REST backend: named by marketoGUID (id null); its external
// key is REST's externalOpportunityId, so it is the externalKey rather than a custom field; and
// REST links opportunities to companies by externalCompanyId, which the simulator's seed has no
// field for, so this read has no company (test/rest/rest-writes-issue14.test.ts reads one back).
const seeded64Rest = {
  id: null,
  marketoGUID: toGuid('opportunity', 64),
  externalKey: key64,
  name: 'Q1 2014',
  amount: 2000,
  probability: 80,
  closeDate: '2014-03-31',
  stage: 'Negotiation',
  customFields: { cAccountFSID: 'C123' },
  createdAt: '2013-07-30T12:00:00.000Z',
  updatedAt: '2013-07-30T12:00:00.000Z'
}

/**
 * Reads back the opportunity of a write result: GET /opportunities/{id} on SOAP; on REST, which has
 * no integer ids, the lookup by the result's marketoGUID (its one item is the body).
 */
async function readBack (gw: TestGateway, result: { id: number | null, marketoGUID?: string }): Promise<JsonResponse> {
  if (!rest) return await request(`${gw.url}/opportunities/${storeId('opportunity', result)}`)
  storeId('opportunity', result)
  const res = await request(`${gw.url}/opportunities?marketoGUID=${result.marketoGUID as string}`)
  assert.equal(res.status, 200, res.text)
  assert.equal(res.body.items.length, 1)
  assert.equal(res.body.nextCursor, null)
  return { ...res, body: res.body.items[0] }
}

describe('read routes against the simulator', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway(unlimited) })
  after(async () => { await gw.close() })

  it('GET /opportunities/{id}: the seeded opportunity 64, typed', async () => {
    if (rest) {
      // No integer ids on REST: 400 before any call; the lookup by marketoGUID is its equivalent.
      const before = gw.sim.ledger.length
      assertRestRefusal(await request(`${gw.url}/opportunities/64`), gw.sim, before, /integer ids are SOAP-only/)
      const res = await request(`${gw.url}/opportunities?marketoGUID=${seeded64Rest.marketoGUID}`)
      assert.equal(res.status, 200)
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8')
      assert.deepStrictEqual(res.body, { items: [seeded64Rest], nextCursor: null })
      return
    }
    const res = await request(`${gw.url}/opportunities/64`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8')
    assert.deepStrictEqual(res.body, seeded64)
  })

  it('GET /opportunities/{id}: 404 problem for a missing one', async () => {
    if (rest) {
      // REST: 400 for the integer id; a lookup by a marketoGUID nobody has is an empty page.
      const before = gw.sim.ledger.length
      assertRestRefusal(await request(`${gw.url}/opportunities/999999`), gw.sim, before, /integer ids are SOAP-only/)
      const res = await request(`${gw.url}/opportunities?marketoGUID=${toGuid('opportunity', 999999)}`)
      assert.equal(res.status, 200, res.text)
      assert.deepStrictEqual(res.body, { items: [], nextCursor: null })
      return
    }
    const res = await request(`${gw.url}/opportunities/999999`)
    assert.equal(res.status, 404)
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    assert.equal(res.body.code, 'NOT_FOUND')
    assert.equal(res.body.detail, 'opportunity 999999 does not exist')
  })

  it('GET /opportunities by external key echoes the key', async () => {
    const res = await request(`${gw.url}/opportunities?externalKey.name=opportunityId&externalKey.value=Opportunity_3`)
    assert.equal(res.status, 200)
    assert.deepStrictEqual(res.body, { items: [rest ? seeded64Rest : { ...seeded64, externalKey: key64 }], nextCursor: null })
    const entry = gw.sim.ledger.findLast((e) => e.operation === 'getMObjects')
    assert.ok(entry)
    const half = await request(`${gw.url}/opportunities?externalKey.name=opportunityId`)
    assert.equal(half.status, 400)
    assert.deepStrictEqual(half.body.errors, [{ path: 'querystring:/externalKey.value', message: 'is required with the other externalKey parameter' }])
  })

  it('GET /opportunities filters by stage, company and updatedAt range', async () => {
    const filters = ['stage=Negotiation', 'companyId=2', 'updatedAt.gte=2013-07-02&updatedAt.lt=2013-07-30', 'createdAt.lt=2013-07-02T00:00:00Z&name=Globex%20renewal']
    if (rest) {
      // The REST API looks opportunities up by externalKey or marketoGUID only: 400, no call.
      for (const query of filters) {
        const before = gw.sim.ledger.length
        assertRestRefusal(await request(`${gw.url}/opportunities?${query}`), gw.sim, before, /looks opportunities up by externalKey or marketoGUID only|cannot be filtered by Company/)
      }
    } else {
      const ids = async (query: string): Promise<number[]> => {
        const res = await request(`${gw.url}/opportunities?${query}`)
        assert.equal(res.status, 200, res.text)
        return res.body.items.map((o: { id: number }) => o.id)
      }
      assert.deepStrictEqual(await ids(filters[0]), [64])
      assert.deepStrictEqual(await ids(filters[1]), [4])
      assert.deepStrictEqual(await ids(filters[2]), [7])
      assert.deepStrictEqual(await ids(filters[3]), [4])
    }
    const bad = await request(`${gw.url}/opportunities?updatedAt.gte=yesterday`)
    assert.equal(bad.status, 400)
    const unknown = await request(`${gw.url}/opportunities?color=red`)
    assert.equal(unknown.status, 400)
  })

  it('GET /opportunities refuses impossible dates in its date filters, as the write side does (issue #12, defect 6)', async () => {
    const impossible: Array<[string, string]> = [
      ['updatedAt.gte', '2013-02-30'], ['updatedAt.gte', '2013-07-02T24:00Z'], ['updatedAt.lt', '2013-07-02T24:00:00Z'],
      ['createdAt.gte', '2013-02-29'], ['createdAt.lt', '2013-04-31T12:00:00Z'], ['updatedAt.gte', '2013-13-01'], ['updatedAt.gte', '2013-00-10'],
      ['updatedAt.gte', '2013-07-02T23:60Z'], ['updatedAt.gte', '2013-07-02T12:00:60Z'], ['updatedAt.lt', '2013-07-02T12:00+24:00'], ['createdAt.gte', '2013-07-02T12:00+05:60']
    ]
    for (const [param, value] of impossible) {
      const before = gw.sim.ledger.length
      const res = await request(`${gw.url}/opportunities?${param}=${encodeURIComponent(value)}`)
      assert.equal(res.status, 400, `${param}=${value}: ${res.text}`)
      assert.equal(res.body.code, 'VALIDATION_FAILED')
      assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path), [`querystring:/${param}`], `${param}=${value}`)
      assert.equal(gw.sim.ledger.length, before, `${param}=${value}: nothing reached Marketo`)
    }
    const valid = ['2013-07-02', '2012-02-29', '2013-07-02T23:59:59Z', '2013-07-02T00:00+02:00', '2013-07-02T12:30:15.5-05:00']
    for (const value of valid) {
      const before = gw.sim.ledger.length
      const res = await request(`${gw.url}/opportunities?updatedAt.gte=${encodeURIComponent(value)}`)
      // The REST API has no date filters: 400 after validation, still before any call.
      if (rest) assertRestRefusal(res, gw.sim, before, /looks opportunities up by externalKey or marketoGUID only/)
      else assert.equal(res.status, 200, `${value}: ${res.text}`)
    }
    if (!rest) {
      const res = await request(`${gw.url}/opportunities?updatedAt.gte=2013-07-02&updatedAt.lt=${encodeURIComponent('2013-07-29T23:59:59+00:00')}`)
      assert.deepStrictEqual(res.body.items.map((o: { id: number }) => o.id), [7])
    }
  })

  it('GET /opportunities/roles by opportunity or person, and one role by id', async () => {
    const role10 = { id: 10, opportunityId: 4, personId: 19, role: 'Decision Maker', isPrimary: true, createdAt: '2013-07-01T12:00:00.000Z', updatedAt: '2013-07-01T12:00:00.000Z' }
    if (rest) {
      // REST names a role by marketoGUID and its opportunity by external key (4's is Opportunity_1);
      // roles are listed by person or marketoGUID, not by integer opportunity or role id (400, no call).
      const { id: _, opportunityId: __, ...common } = role10
      const role10Rest = { id: null, marketoGUID: toGuid('role', 10), opportunity: { externalKey: { name: 'opportunityId', value: 'Opportunity_1' } }, ...common }
      const before = gw.sim.ledger.length
      for (const path of ['/opportunities/roles?opportunityId=4', '/opportunities/roles/10', '/opportunities/roles/11']) {
        assertRestRefusal(await request(`${gw.url}${path}`), gw.sim, before, /integer ids are SOAP-only/)
      }
      assert.deepStrictEqual((await request(`${gw.url}/opportunities/roles?personId=19`)).body, { items: [role10Rest], nextCursor: null })
      assert.deepStrictEqual((await request(`${gw.url}/opportunities/roles?personId=6`)).body, { items: [], nextCursor: null })
      assert.deepStrictEqual((await request(`${gw.url}/opportunities/roles?marketoGUID=${toGuid('role', 10)}`)).body, { items: [role10Rest], nextCursor: null })
      assert.deepStrictEqual((await request(`${gw.url}/opportunities/roles?marketoGUID=${toGuid('role', 11)}`)).body, { items: [], nextCursor: null })
      return
    }
    assert.deepStrictEqual((await request(`${gw.url}/opportunities/roles?opportunityId=4`)).body, { items: [role10], nextCursor: null })
    assert.deepStrictEqual((await request(`${gw.url}/opportunities/roles?personId=19`)).body, { items: [role10], nextCursor: null })
    assert.deepStrictEqual((await request(`${gw.url}/opportunities/roles?personId=6`)).body, { items: [], nextCursor: null })
    assert.deepStrictEqual((await request(`${gw.url}/opportunities/roles/10`)).body, role10)
    assert.equal((await request(`${gw.url}/opportunities/roles/11`)).status, 404)
  })

  it('GET /programs/{id}: costs, tags and channel', async () => {
    const res = await request(`${gw.url}/programs/1970`)
    assert.equal(res.status, 200)
    if (rest) {
      // The Asset API: its own program type names (programs.md: "Event"), no workspace id, no
      // archive flag, no cost ids, and no tree path: only the name of the program's folder
      // (folder.folderName), which the gateway gives as folderName and never as a partial treePath.
      assert.deepStrictEqual(res.body, {
        id: 1970,
        name: 'Summer Webinar Series',
        type: 'Event',
        workspaceName: 'Default',
        folderName: 'Webinars',
        channel: 'Webinar',
        tags: [{ type: 'Channel', value: 'Webinar' }],
        costs: [{ month: '2013-05', amount: 1200, note: 'Kick-off' }, { month: '2013-06', amount: 1500 }],
        createdAt: '2013-05-20T09:30:00.000Z',
        updatedAt: '2013-07-01T16:00:00.000Z'
      })
    } else {
      assert.deepStrictEqual(res.body, {
        id: 1970,
        name: 'Summer Webinar Series',
        type: 'Event',
        workspaceId: 1,
        workspaceName: 'Default',
        treePath: '/Marketing Activities/Default/Webinars/Summer Webinar Series',
        isArchived: false,
        channel: 'Webinar',
        tags: [{ type: 'Channel', value: 'Webinar' }],
        costs: [{ id: 152, month: '2013-05', amount: 1200, note: 'Kick-off' }, { id: 153, month: '2013-06', amount: 1500 }],
        createdAt: '2013-05-20T09:30:00.000Z',
        updatedAt: '2013-07-01T16:00:00.000Z'
      })
    }
    assert.equal((await request(`${gw.url}/programs/4242`)).status, 404)
  })

  it('GET /programs by tag, name and workspace', async () => {
    const ids = async (query: string): Promise<number[]> => {
      const res = await request(`${gw.url}/programs?${query}`)
      assert.equal(res.status, 200, res.text)
      return res.body.items.map((p: { id: number }) => p.id)
    }
    // By name, narrowed by tag or workspace: on REST one Get Program by Name (tags and costs included).
    assert.deepStrictEqual(await ids('name=Coffee%20Promotion&tagType=Product%20Line&tagValue=Coffee'), [1002])
    assert.deepStrictEqual(await ids('name=Summer%20Webinar%20Series&tagType=Channel&tagValue=Webinar'), [1970])
    assert.deepStrictEqual(await ids('name=Program01&tagType=Channel&tagValue=Webinar'), [])
    assert.deepStrictEqual(await ids('name=Program01&workspaceName=Default'), [1001])
    assert.deepStrictEqual(await ids('name=Program01&workspaceName=Elsewhere'), [])
    // Without a name, on REST: Get Programs by Tag or browsing, then each program by id for its costs.
    assert.deepStrictEqual(await ids(''), [1001, 1002, 1970])
    assert.deepStrictEqual(await ids('tagType=Product%20Line&tagValue=Coffee'), [1002])
    assert.deepStrictEqual(await ids('tagType=Channel&tagValue=Webinar'), [1970])
    assert.deepStrictEqual(await ids('workspaceName=Elsewhere'), [])
    if (rest) {
      // Get Programs by Tag takes both; the Asset API has no workspace ids.
      let before = gw.sim.ledger.length
      assertRestRefusal(await request(`${gw.url}/programs?tagType=Channel`), gw.sim, before, /tagType and tagValue/)
      before = gw.sim.ledger.length
      assertRestRefusal(await request(`${gw.url}/programs?name=Program01&workspaceId=1`), gw.sim, before, /workspaceName/)
      return
    }
    assert.deepStrictEqual(await ids('name=Program01&workspaceId=1'), [1001])
  })

  it('a program write reads back', async () => {
    const write = await request(`${gw.url}/programs/1001/tags`, { body: { tags: [{ type: 'Region', value: 'EMEA' }] } })
    assert.equal(write.status, 200)
    let amount = 99.5
    if (rest) {
      // REST program costs are whole numbers (400, no call).
      const before = gw.sim.ledger.length
      assertRestRefusal(await request(`${gw.url}/programs/1001/costs`, { body: { costs: [{ month: '2014-01', amount, note: 'ads' }] } }), gw.sim, before, /whole numbers/)
      amount = 99
    }
    const costs = await request(`${gw.url}/programs/1001/costs`, { body: { costs: [{ month: '2014-01', amount, note: 'ads' }] } })
    assert.equal(costs.status, 200)
    const res = await request(`${gw.url}/programs/1001`)
    assert.deepStrictEqual(res.body.tags, [{ type: 'Channel', value: 'Content' }, { type: 'Region', value: 'EMEA' }])
    assert.equal(res.body.costs.length, 1)
    assert.deepStrictEqual({ ...res.body.costs[0], id: 0 }, { id: 0, month: '2014-01', amount, note: 'ads' })
    if (rest) assert.equal(res.body.costs[0].id, undefined, 'REST has no cost ids')
  })

  it('GET /mobjects/{type}/describe lists the seeded custom fields, and is cached', async () => {
    const before = calls(gw, 'describeMObject')
    const res = await request(`${gw.url}/mobjects/Opportunity/describe`)
    assert.equal(res.status, 200)
    assert.equal(res.body.type, 'Opportunity')
    if (rest) {
      // REST's describe: no descriptions, lengths of strings only, marketoGUID instead of Id, and
      // the external key field (externalOpportunityId, named opportunityId here) a standard field.
      assert.deepStrictEqual(res.body.fields.filter((f: { custom: boolean }) => f.custom), [
        { name: 'cAccountFSID', displayName: 'Account FSID', dataType: 'string', size: 255, readOnly: false, custom: true },
        { name: 'ProductLine', displayName: 'Product Line', dataType: 'string', size: 100, readOnly: false, custom: true },
        { name: 'DealScore', displayName: 'Deal Score', dataType: 'integer', size: null, readOnly: false, custom: true }
      ])
      assert.deepStrictEqual(res.body.fields.find((f: { name: string }) => f.name === 'opportunityId'), { name: 'opportunityId', displayName: 'External Opportunity Id', dataType: 'string', size: 50, readOnly: true, custom: false })
      assert.deepStrictEqual(res.body.fields.find((f: { name: string }) => f.name === 'marketoGUID'), { name: 'marketoGUID', displayName: 'Marketo GUID', dataType: 'string', size: 36, readOnly: true, custom: false })
      assert.equal(res.body.fields.find((f: { name: string }) => f.name === 'Id'), undefined)
    } else {
      assert.deepStrictEqual(res.body.fields.filter((f: { custom: boolean }) => f.custom), [
        { name: 'opportunityId', displayName: 'Opportunity Id', description: 'External opportunity key (custom)', dataType: 'string', size: 255, readOnly: false, custom: true },
        { name: 'cAccountFSID', displayName: 'Account FSID', description: 'External company key (custom)', dataType: 'string', size: 255, readOnly: false, custom: true },
        { name: 'ProductLine', displayName: 'Product Line', description: 'Product line (custom)', dataType: 'string', size: 100, readOnly: false, custom: true },
        { name: 'DealScore', displayName: 'Deal Score', description: 'Internal deal score (custom)', dataType: 'integer', size: 10, readOnly: false, custom: true }
      ])
      assert.deepStrictEqual(res.body.fields.find((f: { name: string }) => f.name === 'Id'), { name: 'Id', description: 'Unique system id of Opportunity', dataType: 'integer', size: 10, readOnly: true, custom: false })
    }
    const again = await request(`${gw.url}/mobjects/Opportunity/describe`)
    assert.deepStrictEqual(again.body, res.body)
    // The opportunity reads above already filled the cache: no describe call for these two.
    assert.equal(calls(gw, 'describeMObject'), before)
    const roles = await request(`${gw.url}/mobjects/OpportunityPersonRole/describe`)
    assert.deepStrictEqual(roles.body.fields.map((f: { name: string }) => f.name), rest
      ? ['marketoGUID', 'externalOpportunityId', 'PersonId', 'Role', 'IsPrimary', 'ExternalCreatedDate', 'createdAt', 'updatedAt']
      : ['Id', 'OpportunityId', 'PersonId', 'Role', 'IsPrimary', 'ExternalCreatedDate', 'CreatedAt', 'UpdatedAt'])
    assert.equal((await request(`${gw.url}/mobjects/Lead/describe`)).status, 400)
  })

  it('reads are retried after a lost connection (they are idempotent)', async () => {
    gw.sim.knobs.enqueue({ resetBeforeApply: true })
    const before = calls(gw, 'getMObjects')
    const res = await request(`${gw.url}/programs/1002`)
    assert.equal(res.status, 200)
    assert.equal(res.body.name, 'Coffee Promotion')
    assert.equal(calls(gw, 'getMObjects'), before + 2)
  })

  it('Marketo faults become problems', async () => {
    gw.sim.knobs.enqueue({ fault: 20014 })
    const res = await request(`${gw.url}/programs/1970`)
    assert.equal(res.status, 502)
    assert.equal(res.body.code, 'UPSTREAM_AUTH')
    // On REST the simulator answers this fault as its REST twin, 603 (access denied).
    assert.equal(res.body.upstreamCode, rest ? 603 : 20014)
  })

  it('write then read back equals what was written (property)', async () => {
    // Tabs, line feeds and spaces round-trip, leading and trailing ones included (reads parse the answer's exact text).
    const text = (max: number) => fc.string({ maxLength: max, unit: fc.constantFrom('a', 'Z', '0', ' ', '-', '<', '&', '"', 'é', '\n', '\t') })
    const date = fc.date({ min: new Date('1950-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10))
    const money = fc.double({ min: -1e9, max: 1e9, noNaN: true }).filter((n) => !Object.is(n, -0))
    const positive = fc.double({ min: 0, max: 1e9, noNaN: true }).filter((n) => !Object.is(n, -0))
    const opportunity = fc.record({
      name: fc.string({ minLength: 1, maxLength: 60 }),
      description: text(300),
      amount: money,
      expectedRevenue: money,
      probability: fc.double({ min: 0, max: 100, noNaN: true }).filter((n) => !Object.is(n, -0)),
      quantity: positive,
      closeDate: date,
      externalCreatedDate: date,
      lastActivityDate: date,
      fiscal: text(40),
      fiscalQuarter: fc.integer({ min: 1, max: 4 }),
      fiscalYear: fc.integer({ min: 1900, max: 2999 }),
      forecastCategoryName: text(40),
      leadSource: text(40),
      nextStep: text(40),
      stage: text(40),
      type: text(40),
      isClosed: fc.boolean(),
      isWon: fc.boolean(),
      customFields: fc.record({ ProductLine: text(100), DealScore: fc.integer({ min: -2_147_483_647, max: 2_147_483_647 }), cAccountFSID: text(50) }, { requiredKeys: [] }),
      // REST links companies by externalCompanyId only (400 for an id), a field the seed lacks.
      ...(rest ? {} : { company: fc.constantFrom({ id: 1 }, { id: 2 }) })
    }, { requiredKeys: ['name'] })

    let n = 0
    await fc.assert(fc.asyncProperty(opportunity, async (input) => {
      const externalKey = { name: 'opportunityId', value: `prop-${process.pid}-${n++}` }
      const write = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ externalKey, ...input }] } })
      assert.equal(write.status, 200, write.text)
      const result = write.body.results[0]
      const read = await readBack(gw, result)
      assert.equal(read.status, 200, read.text)
      const { createdAt, updatedAt, ...fields } = read.body
      assert.match(createdAt, /^\d{4}-\d{2}-\d{2}T/)
      assert.match(updatedAt, /^\d{4}-\d{2}-\d{2}T/)
      assert.deepStrictEqual(fields, rest
        ? { id: null, marketoGUID: result.marketoGUID, externalKey, ...input, customFields: { ...input.customFields } }
        : { id: result.id, ...input, customFields: { opportunityId: externalKey.value, ...input.customFields } })
      const byKey = await request(`${gw.url}/opportunities?externalKey.name=opportunityId&externalKey.value=${encodeURIComponent(externalKey.value)}`)
      assert.deepStrictEqual(byKey.body, { items: [{ ...read.body, externalKey }], nextCursor: null })
    }), { numRuns: 40, seed: 8 })
  })

  it('keeps leading and trailing whitespace of string values', async () => {
    const write = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ externalKey: { name: 'opportunityId', value: 'padded' }, name: ' padded ', description: 'two lines\n' }] } })
    assert.equal(write.status, 200, write.text)
    const read = await readBack(gw, write.body.results[0])
    assert.equal(read.body.name, ' padded ')
    assert.equal(read.body.description, 'two lines\n')
  })
})

// REST looks opportunities up by one external key or marketoGUID, so only roles by person page
// there: the same cursors run over 250 roles of person 6 (one in each of 250 new opportunities),
// named by marketoGUID, where SOAP pages over 250 opportunities of one stage, named by id.
describe('cursor paging', () => {
  let gw: TestGateway
  let ids: Array<number | string>
  const stage = `paging-${process.pid}`
  const list = rest ? '/opportunities/roles' : '/opportunities'
  const filter = rest ? 'personId=6' : `stage=${stage}`
  const idOf = (o: { id: number | null, marketoGUID?: string }): number | string => rest ? o.marketoGUID as string : o.id as number
  before(async () => {
    gw = await startGateway(unlimited)
    const opportunities = Array.from({ length: 250 }, (_, i) => ({ externalKey: { name: 'opportunityId', value: `paged-${i}` }, name: `Paged ${i}`, stage, amount: i }))
    const res = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities } })
    assert.equal(res.status, 200, res.text.slice(0, 300))
    ids = res.body.results.map(idOf)
    if (rest) {
      const roles = opportunities.map((o, i) => ({ opportunity: { externalKey: o.externalKey }, personId: 6, role: `Paged ${i}` }))
      const created = await request(`${gw.url}/opportunities/roles`, { body: { operation: 'insert', roles } })
      assert.equal(created.status, 200, created.text.slice(0, 300))
      ids = created.body.results.map(idOf)
    }
  })
  after(async () => { await gw.close() })

  async function walk (limit: number, filters = filter): Promise<{ seen: Array<number | string>, pages: number[] }> {
    const seen: Array<number | string> = []
    const pages: number[] = []
    let cursor: string | null = null
    do {
      const res: { status: number, body: any, text: string } = await request(`${gw.url}${list}?${filters}&limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`)
      assert.equal(res.status, 200, res.text)
      assert.ok(res.body.items.length <= limit)
      pages.push(res.body.items.length)
      seen.push(...res.body.items.map(idOf))
      cursor = res.body.nextCursor
      assert.ok(pages.length <= 300, 'paging terminates')
    } while (cursor !== null)
    return { seen, pages }
  }

  it('returns each of 250 objects exactly once with the default limit of 100', async () => {
    const before = calls(gw, 'getMObjects')
    const { seen, pages } = await walk(100)
    assert.deepStrictEqual(seen, ids)
    assert.deepStrictEqual(pages, [100, 100, 50])
    assert.equal(calls(gw, 'getMObjects'), before + 3)
  })

  it('returns each exactly once with a limit that does not divide Marketo pages', async () => {
    const { seen, pages } = await walk(30)
    assert.deepStrictEqual(seen, ids)
    assert.deepStrictEqual(pages, [30, 30, 30, 30, 30, 30, 30, 30, 10])
  })

  it('resumes after the last object returned even when objects around it were deleted', async () => {
    const first = await request(`${gw.url}${list}?${filter}&limit=30`)
    const last = idOf(first.body.items[29])
    const type = rest ? 'OpportunityPersonRole' : 'Opportunity'
    const doomed = [last, ids[30]].map((id) => rest ? { type, marketoGUID: id } : { type, id })
    const del = await request(`${gw.url}/mobjects/delete`, { body: { objects: doomed } })
    assert.equal(del.status, 200)
    assert.deepStrictEqual(del.body.results.map((r: { status: string }) => r.status), ['deleted', 'deleted'])
    const next = await request(`${gw.url}${list}?${filter}&limit=30&cursor=${first.body.nextCursor}`)
    assert.equal(next.status, 200, next.text)
    // SOAP resumes after the last id returned; REST pages are the caller's page size, so the
    // cursor is REST's nextPageToken, which resumes after the last record served.
    assert.deepStrictEqual(next.body.items.map(idOf), ids.slice(31, 61))
  })

  it('refuses a cursor with other filters, and a forged one', async () => {
    const first = await request(`${gw.url}${list}?${filter}&limit=10`)
    const other = await request(`${gw.url}${list}?${rest ? 'personId=19' : 'stage=other'}&limit=10&cursor=${first.body.nextCursor}`)
    assert.equal(other.status, 400)
    assert.equal(other.body.code, 'VALIDATION_FAILED')
    assert.match(other.body.detail, /other filters/)
    const forged = await request(`${gw.url}${list}?${filter}&cursor=AAAA`)
    assert.equal(forged.status, 400)
    assert.equal((await request(`${gw.url}${list}?limit=101`)).status, 400)
    assert.equal((await request(`${gw.url}${list}?limit=0`)).status, 400)
  })

  it('refuses a tampered cursor (position edited, filter hash recomputed) with 400 and no Marketo call (issue #12, defect 5)', async () => {
    const first = await request(`${gw.url}${list}?${filter}&limit=10`)
    assert.equal(first.status, 200, first.text)
    const genuine = JSON.parse(Buffer.from(first.body.nextCursor, 'base64url').toString('utf8'))
    // The filters as the route sees them after validation (limit and cursor are not part of them).
    const f = filterHash(list, rest ? { personId: 6 } : { stage })
    assert.equal(genuine.f, f, 'the filter hash is recomputed the way the gateway computes it')
    const forge = (state: Record<string, unknown>): string => Buffer.from(JSON.stringify({ ...state, f })).toString('base64url')
    const tampered = [
      // Ten objects further on: would silently skip a page.
      forge({ ...genuine, o: genuine.o + 10, ...(typeof genuine.a === 'number' ? { a: ids[19] } : {}) }),
      // Back to the start, or (REST, whose cursor starts a Marketo page) five into the page.
      forge({ ...genuine, o: genuine.o === 0 ? 5 : 0, ...(typeof genuine.a === 'number' ? { a: ids[0] } : {}) })
    ]
    // Marketo's stream position (REST's nextPageToken) edited: Marketo would refuse it (502).
    if (typeof genuine.sp === 'string') tampered.push(forge({ ...genuine, sp: genuine.sp.slice(0, -2) + (genuine.sp.endsWith('AA') ? 'AB' : 'AA') }))
    else tampered.push(forge({ ...genuine, sp: 'c3RyZWFtLXBvc2l0aW9u' }))
    for (const cursor of tampered) {
      const before = gw.sim.ledger.length
      const res = await request(`${gw.url}${list}?${filter}&limit=10&cursor=${cursor}`)
      assert.equal(res.status, 400, res.text)
      assert.equal(res.body.code, 'VALIDATION_FAILED')
      assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path), ['querystring:/cursor'])
      assert.equal(gw.sim.ledger.length, before, 'nothing reached Marketo')
    }
    const next = await request(`${gw.url}${list}?${filter}&limit=10&cursor=${first.body.nextCursor}`)
    assert.equal(next.status, 200, next.text)
    assert.deepStrictEqual(next.body.items.map(idOf), ids.slice(10, 20))
  })
})

describe('custom field validation on writes', () => {
  const body = {
    operation: 'insert',
    opportunities: [
      { externalKey: { name: 'opportunityId', value: 'checked' }, name: 'Checked', customFields: { ProductLine: 'Tea', Bogus__c: 'x' } },
      { externalKey: { name: 'opportunityId', value: 'also' }, name: 'Also', customFields: { Other__c: 1 } }
    ]
  }

  it('with VALIDATE_CUSTOM_FIELDS=false: Marketo answers the unknown field as a failed object', async (t) => {
    const gw = await startGateway({ env: { VALIDATE_CUSTOM_FIELDS: 'false' } })
    t.after(() => gw.close())
    const res = await request(`${gw.url}/opportunities`, { body })
    assert.equal(res.status, 207)
    assert.deepStrictEqual(res.body.results.map((r: { status: string }) => r.status), ['failed', 'failed'])
    assert.equal(syncCalls(gw.sim), 1)
    assert.equal(calls(gw, 'describeMObject'), 0)
  })

  it('by default: off on SOAP (Marketo fails the object), on for REST (400 before any write)', async (t) => {
    const gw = await startGateway()
    t.after(() => gw.close())
    const res = await request(`${gw.url}/opportunities`, { body })
    if (rest) {
      assert.equal(res.status, 400, res.text)
      assert.equal(res.body.detail, 'unknown Opportunity fields: Bogus__c, Other__c')
      assert.equal(syncCalls(gw.sim), 0)
      assert.equal(calls(gw, 'describeMObject'), 1)
      return
    }
    assert.equal(res.status, 207)
    assert.deepStrictEqual(res.body.results.map((r: { status: string }) => r.status), ['failed', 'failed'])
    assert.equal(syncCalls(gw.sim), 1)
    assert.equal(calls(gw, 'describeMObject'), 0)
  })

  it('with VALIDATE_CUSTOM_FIELDS=true: 400 naming each unknown field, before any write', async (t) => {
    // On REST the describe is REST's opportunity describe, its names mapped to the gateway's.
    const gw = await startGateway({ env: { VALIDATE_CUSTOM_FIELDS: 'true' } })
    t.after(() => gw.close())
    const res = await request(`${gw.url}/opportunities`, { body })
    assert.equal(res.status, 400)
    assert.equal(res.body.code, 'VALIDATION_FAILED')
    assert.equal(res.body.detail, 'unknown Opportunity fields: Bogus__c, Other__c')
    assert.deepStrictEqual(res.body.errors, [
      { path: '/opportunities/0/customFields/Bogus__c', message: 'is not a field of Opportunity in Marketo (describeMObject)' },
      { path: '/opportunities/1/customFields/Other__c', message: 'is not a field of Opportunity in Marketo (describeMObject)' }
    ])
    assert.equal(syncCalls(gw.sim), 0)
    if (!rest) {
      // PATCH names the opportunity by integer id, which REST refuses first (see the write tests).
      const patch = await request(`${gw.url}/opportunities/64`, { method: 'PATCH', body: { customFields: { Nope__c: true } } })
      assert.equal(patch.status, 400)
      assert.deepStrictEqual(patch.body.errors, [{ path: '/customFields/Nope__c', message: 'is not a field of Opportunity in Marketo (describeMObject)' }])
    }
    const ok = await request(`${gw.url}/opportunities`, { body: { opportunities: [{ externalKey: { name: 'opportunityId', value: 'V-1' }, name: 'Valid', customFields: { DealScore: 3 } }] } })
    assert.equal(ok.status, 200)
    assert.equal(syncCalls(gw.sim), 1)
    assert.equal(calls(gw, 'describeMObject'), 1)
  })
})
