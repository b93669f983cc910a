import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { startGateway, request, syncCalls, type TestGateway } from '../helpers/gateway.js'

// Marketo's 100 calls per 20 s would make these tests wait: both limits off.
const unlimited = { simulator: { limits: { rateLimit: null } }, env: { MARKETO_RATE_LIMIT_WINDOW_MS: '0' } }
const calls = (gw: TestGateway, operation: string): number => gw.sim.ledger.filter((e) => e.operation === operation).length

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

describe('read routes against the simulator', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway(unlimited) })
  after(async () => { await gw.close() })

  it('GET /opportunities/{id}: the seeded opportunity 64, typed', async () => {
    const res = await request(`${gw.url}/opportunities/64`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8')
    assert.deepStrictEqual(res.body, seeded64)
  })

  it('GET /opportunities/{id}: 404 problem for a missing one', async () => {
    const res = await request(`${gw.url}/opportunities/999999`)
    assert.equal(res.status, 404)
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    assert.equal(res.body.code, 'NOT_FOUND')
    assert.equal(res.body.detail, 'opportunity 999999 does not exist')
  })

  it('GET /opportunities by external key echoes the key', async () => {
    const res = await request(`${gw.url}/opportunities?externalKey.name=opportunityId&externalKey.value=Opportunity_3`)
    assert.equal(res.status, 200)
    assert.deepStrictEqual(res.body, { items: [{ ...seeded64, externalKey: { name: 'opportunityId', value: 'Opportunity_3' } }], nextCursor: null })
    const entry = gw.sim.ledger.findLast((e) => e.operation === 'getMObjects')
    assert.ok(entry)
    const half = await request(`${gw.url}/opportunities?externalKey.name=opportunityId`)
    assert.equal(half.status, 400)
    assert.deepStrictEqual(half.body.errors, [{ path: 'querystring:/externalKey.value', message: 'is required with the other externalKey parameter' }])
  })

  it('GET /opportunities filters by stage, company and updatedAt range', async () => {
    const ids = async (query: string): Promise<number[]> => {
      const res = await request(`${gw.url}/opportunities?${query}`)
      assert.equal(res.status, 200, res.text)
      return res.body.items.map((o: { id: number }) => o.id)
    }
    assert.deepStrictEqual(await ids('stage=Negotiation'), [64])
    assert.deepStrictEqual(await ids('companyId=2'), [4])
    assert.deepStrictEqual(await ids('updatedAt.gte=2013-07-02&updatedAt.lt=2013-07-30'), [7])
    assert.deepStrictEqual(await ids('createdAt.lt=2013-07-02T00:00:00Z&name=Globex%20renewal'), [4])
    const bad = await request(`${gw.url}/opportunities?updatedAt.gte=yesterday`)
    assert.equal(bad.status, 400)
    const unknown = await request(`${gw.url}/opportunities?color=red`)
    assert.equal(unknown.status, 400)
  })

  it('GET /opportunities/roles by opportunity or person, and one role by id', async () => {
    const role10 = { id: 10, opportunityId: 4, personId: 19, role: 'Decision Maker', isPrimary: true, createdAt: '2013-07-01T12:00:00.000Z', updatedAt: '2013-07-01T12:00:00.000Z' }
    assert.deepStrictEqual((await request(`${gw.url}/opportunities/roles?opportunityId=4`)).body, { items: [role10], nextCursor: null })
    assert.deepStrictEqual((await request(`${gw.url}/opportunities/roles?personId=19`)).body, { items: [role10], nextCursor: null })
    assert.deepStrictEqual((await request(`${gw.url}/opportunities/roles?personId=6`)).body, { items: [], nextCursor: null })
    assert.deepStrictEqual((await request(`${gw.url}/opportunities/roles/10`)).body, role10)
    assert.equal((await request(`${gw.url}/opportunities/roles/11`)).status, 404)
  })

  it('GET /programs/{id}: costs, tags and channel', async () => {
    const res = await request(`${gw.url}/programs/1970`)
    assert.equal(res.status, 200)
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
    assert.equal((await request(`${gw.url}/programs/4242`)).status, 404)
  })

  it('GET /programs by tag, name and workspace', async () => {
    const ids = async (query: string): Promise<number[]> => (await request(`${gw.url}/programs?${query}`)).body.items.map((p: { id: number }) => p.id)
    assert.deepStrictEqual(await ids(''), [1001, 1002, 1970])
    assert.deepStrictEqual(await ids('tagType=Product%20Line&tagValue=Coffee'), [1002])
    assert.deepStrictEqual(await ids('tagType=Channel&tagValue=Webinar'), [1970])
    assert.deepStrictEqual(await ids('name=Program01&workspaceId=1'), [1001])
    assert.deepStrictEqual(await ids('workspaceName=Elsewhere'), [])
  })

  it('a program write reads back', async () => {
    const write = await request(`${gw.url}/programs/1001/tags`, { body: { tags: [{ type: 'Region', value: 'EMEA' }] } })
    assert.equal(write.status, 200)
    const costs = await request(`${gw.url}/programs/1001/costs`, { body: { costs: [{ month: '2014-01', amount: 99.5, note: 'ads' }] } })
    assert.equal(costs.status, 200)
    const res = await request(`${gw.url}/programs/1001`)
    assert.deepStrictEqual(res.body.tags, [{ type: 'Channel', value: 'Content' }, { type: 'Region', value: 'EMEA' }])
    assert.equal(res.body.costs.length, 1)
    assert.deepStrictEqual({ ...res.body.costs[0], id: 0 }, { id: 0, month: '2014-01', amount: 99.5, note: 'ads' })
  })

  it('GET /mobjects/{type}/describe lists the seeded custom fields, and is cached', async () => {
    const before = calls(gw, 'describeMObject')
    const res = await request(`${gw.url}/mobjects/Opportunity/describe`)
    assert.equal(res.status, 200)
    assert.equal(res.body.type, 'Opportunity')
    assert.deepStrictEqual(res.body.fields.filter((f: { custom: boolean }) => f.custom), [
      { name: 'opportunityId', displayName: 'Opportunity Id', description: 'External opportunity key (custom)', dataType: 'string', size: 255, readOnly: false, custom: true },
      { name: 'cAccountFSID', displayName: 'Account FSID', description: 'External company key (custom)', dataType: 'string', size: 255, readOnly: false, custom: true },
      { name: 'ProductLine', displayName: 'Product Line', description: 'Product line (custom)', dataType: 'string', size: 100, readOnly: false, custom: true },
      { name: 'DealScore', displayName: 'Deal Score', description: 'Internal deal score (custom)', dataType: 'integer', size: 10, readOnly: false, custom: true }
    ])
    assert.deepStrictEqual(res.body.fields.find((f: { name: string }) => f.name === 'Id'), { name: 'Id', description: 'Unique system id of Opportunity', dataType: 'integer', size: 10, readOnly: true, custom: false })
    const again = await request(`${gw.url}/mobjects/Opportunity/describe`)
    assert.deepStrictEqual(again.body, res.body)
    // The opportunity reads above already filled the cache: no describe call for these two.
    assert.equal(calls(gw, 'describeMObject'), before)
    const roles = await request(`${gw.url}/mobjects/OpportunityPersonRole/describe`)
    assert.deepStrictEqual(roles.body.fields.map((f: { name: string }) => f.name), ['Id', 'OpportunityId', 'PersonId', 'Role', 'IsPrimary', 'ExternalCreatedDate', 'CreatedAt', 'UpdatedAt'])
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
    assert.equal(res.body.upstreamCode, 20014)
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
      company: fc.constantFrom({ id: 1 }, { id: 2 })
    }, { requiredKeys: ['name'] })

    let n = 0
    await fc.assert(fc.asyncProperty(opportunity, async (input) => {
      const externalKey = { name: 'opportunityId', value: `prop-${process.pid}-${n++}` }
      const write = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ externalKey, ...input }] } })
      assert.equal(write.status, 200, write.text)
      const id = write.body.results[0].id
      const read = await request(`${gw.url}/opportunities/${id}`)
      assert.equal(read.status, 200, read.text)
      const { createdAt, updatedAt, ...rest } = read.body
      assert.match(createdAt, /^\d{4}-\d{2}-\d{2}T/)
      assert.match(updatedAt, /^\d{4}-\d{2}-\d{2}T/)
      assert.deepStrictEqual(rest, { id, ...input, customFields: { opportunityId: externalKey.value, ...input.customFields } })
      const byKey = await request(`${gw.url}/opportunities?externalKey.name=opportunityId&externalKey.value=${encodeURIComponent(externalKey.value)}`)
      assert.deepStrictEqual(byKey.body, { items: [{ ...read.body, externalKey }], nextCursor: null })
    }), { numRuns: 40, seed: 8 })
  })

  it('keeps leading and trailing whitespace of string values', async () => {
    const write = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ name: ' padded ', description: 'two lines\n' }] } })
    const read = await request(`${gw.url}/opportunities/${write.body.results[0].id}`)
    assert.equal(read.body.name, ' padded ')
    assert.equal(read.body.description, 'two lines\n')
  })
})

describe('cursor paging', () => {
  let gw: TestGateway
  let ids: number[]
  const stage = `paging-${process.pid}`
  before(async () => {
    gw = await startGateway(unlimited)
    const opportunities = Array.from({ length: 250 }, (_, i) => ({ name: `Paged ${i}`, stage, amount: i }))
    const res = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities } })
    assert.equal(res.status, 200)
    ids = res.body.results.map((r: { id: number }) => r.id)
  })
  after(async () => { await gw.close() })

  async function walk (limit: number, filters = `stage=${stage}`): Promise<{ seen: number[], pages: number[] }> {
    const seen: number[] = []
    const pages: number[] = []
    let cursor: string | null = null
    do {
      const res: { status: number, body: any, text: string } = await request(`${gw.url}/opportunities?${filters}&limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`)
      assert.equal(res.status, 200, res.text)
      assert.ok(res.body.items.length <= limit)
      pages.push(res.body.items.length)
      seen.push(...res.body.items.map((o: { id: number }) => o.id))
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
    const first = await request(`${gw.url}/opportunities?stage=${stage}&limit=30`)
    const last = first.body.items[29].id
    const del = await request(`${gw.url}/mobjects/delete`, { body: { objects: [{ type: 'Opportunity', id: last }, { type: 'Opportunity', id: ids[30] }] } })
    assert.equal(del.status, 200)
    const next = await request(`${gw.url}/opportunities?stage=${stage}&limit=30&cursor=${first.body.nextCursor}`)
    assert.deepStrictEqual(next.body.items.map((o: { id: number }) => o.id), ids.slice(31, 61))
  })

  it('refuses a cursor with other filters, and a forged one', async () => {
    const first = await request(`${gw.url}/opportunities?stage=${stage}&limit=10`)
    const other = await request(`${gw.url}/opportunities?stage=other&limit=10&cursor=${first.body.nextCursor}`)
    assert.equal(other.status, 400)
    assert.equal(other.body.code, 'VALIDATION_FAILED')
    assert.match(other.body.detail, /other filters/)
    const forged = await request(`${gw.url}/opportunities?stage=${stage}&cursor=AAAA`)
    assert.equal(forged.status, 400)
    assert.equal((await request(`${gw.url}/opportunities?limit=101`)).status, 400)
    assert.equal((await request(`${gw.url}/opportunities?limit=0`)).status, 400)
  })
})

describe('custom field validation on writes', () => {
  const body = { operation: 'insert', opportunities: [{ name: 'Checked', customFields: { ProductLine: 'Tea', Bogus__c: 'x' } }, { name: 'Also', customFields: { Other__c: 1 } }] }

  it('is off by default: Marketo answers the unknown field as a failed object', async (t) => {
    const gw = await startGateway()
    t.after(() => gw.close())
    const res = await request(`${gw.url}/opportunities`, { body })
    assert.equal(res.status, 207)
    assert.equal(syncCalls(gw.sim), 1)
    assert.equal(calls(gw, 'describeMObject'), 0)
  })

  it('with VALIDATE_CUSTOM_FIELDS=true: 400 naming each unknown field, before any write', async (t) => {
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
    const patch = await request(`${gw.url}/opportunities/64`, { method: 'PATCH', body: { customFields: { Nope__c: true } } })
    assert.equal(patch.status, 400)
    assert.deepStrictEqual(patch.body.errors, [{ path: '/customFields/Nope__c', message: 'is not a field of Opportunity in Marketo (describeMObject)' }])
    const ok = await request(`${gw.url}/opportunities`, { body: { opportunities: [{ externalKey: { name: 'opportunityId', value: 'V-1' }, name: 'Valid', customFields: { DealScore: 3 } }] } })
    assert.equal(ok.status, 200)
    assert.equal(syncCalls(gw.sim), 1)
    assert.equal(calls(gw, 'describeMObject'), 1)
  })
})
