import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, assertRestRefusal, upstreamCalls, type TestGateway } from '../helpers/gateway.js'
import { loadSeed, toGuid } from '../../simulator/index.js'

// Issue #14, the last points: reads by several external keys or GUIDs in calls of up to 300
// filterValues, unknown fields checked against the REST describe before any write, deletes of up
// to 300 records a call, and GET /programs by tag or browsing. Everything runs against the
// simulator's REST face over HTTP; the calls are read from its ledger.

type RestEntry = NonNullable<TestGateway['sim']['ledger'][number]['rest']>

function entries (gw: TestGateway, from: number, operation: string): RestEntry[] {
  return gw.sim.ledger.slice(from).flatMap((e) => e.rest === undefined || e.operation !== operation ? [] : [e.rest])
}

/** A read's parameters, in the query string or (POST ?_method=GET) in its form body. */
function params (e: RestEntry): URLSearchParams {
  return e.method === 'GET' ? new URLSearchParams(e.query) : new URLSearchParams(String(e.body))
}

const key = (i: number): string => `lk-${String(i).padStart(3, '0')}`

/** A fixed shuffle (the same order every run): the lookups must answer in this order, not the store's. */
function shuffled<T> (items: T[]): T[] {
  const out = [...items]
  let seed = 7
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    const j = seed % (i + 1);
    [out[i], out[j]] = [out[j], out[i]]
  }
  return out
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

describe('REST writes: unknown fields answer 400 from the cached describe by default (issue #14)', () => {
  let gw: TestGateway
  before(async () => {
    const seed = loadSeed()
    seed.opportunityFields.push({ name: 'Temporary__c', dataType: 'string', size: 80, description: 'dropped later (custom)', isCustom: true })
    gw = await startGateway({ backend: 'rest', simulator: { seed }, env: { COALESCE_WINDOW_MS: '0' } })
  })
  after(async () => { await gw.close() })
  const opp = (value: string, customFields: Record<string, unknown>) => ({ externalKey: { name: 'opportunityId', value }, name: `Opp ${value}`, customFields })

  it('an unknown custom field: 400 naming /opportunities/0/customFields/<field>, no write call; a known one passes, one describe for both', async () => {
    const from = gw.sim.ledger.length
    const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('vf-unknown', { NoSuchField: 'x' })] } })
    assert.equal(res.status, 400, res.text)
    assert.equal(res.body.code, 'VALIDATION_FAILED')
    assert.deepEqual(res.body.errors, [{ path: '/opportunities/0/customFields/NoSuchField', message: 'is not a field of Opportunity in Marketo (describeMObject)' }])
    assert.equal(entries(gw, from, 'syncMObjects').length, 0)
    const ok = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('vf-known', { ProductLine: 'Tea', Temporary__c: 'kept' })] } })
    assert.equal(ok.status, 200, ok.text)
    assert.deepEqual(entries(gw, from, 'syncMObjects').map((e) => (e.body as { input: unknown[] }).input), [[{ externalOpportunityId: 'vf-known', name: 'Opp vf-known', ProductLine: 'Tea', Temporary__c: 'kept' }]])
    assert.deepEqual(entries(gw, from, 'describeMObject').map((e) => e.path), ['/rest/v1/opportunities/describe.json'])
  })

  it('the generic route checks Opportunity attributes the same way', async () => {
    const from = gw.sim.ledger.length
    const res = await request(`${gw.url}/mobjects/sync`, { body: { operation: 'UPSERT', mObjects: [{ type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'vf-generic' }, attributes: { Name: 'Generic', Nope: 1 } }] } })
    assert.equal(res.status, 400, res.text)
    assert.deepEqual(res.body.errors, [{ path: '/mObjects/0/attributes/Nope', message: 'is not a field of Opportunity in Marketo (describeMObject)' }])
    assert.equal(entries(gw, from, 'syncMObjects').length, 0)
  })

  it('a field the cached describe still lists but Marketo no longer has: that object fails naming it (1006), the others are written', async () => {
    // The admin deletes the field after the describe was cached.
    gw.sim.store['seed'].opportunityFields = gw.sim.store['seed'].opportunityFields.filter((f) => f.name !== 'Temporary__c')
    gw.sim.store.reset()
    const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('vf-stale', { Temporary__c: 'gone' }), opp('vf-fine', { ProductLine: 'Coffee' })] } })
    assert.equal(res.status, 207, res.text)
    assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['failed', 'created'])
    assert.match(res.body.results[0].error.message, /Temporary__c.*\(1006\)$/)
  })

  it('VALIDATE_CUSTOM_FIELDS=false turns the check off on REST: Marketo fails the object (1006)', async (t) => {
    const off = await startGateway({ backend: 'rest', env: { VALIDATE_CUSTOM_FIELDS: 'false', COALESCE_WINDOW_MS: '0' } })
    t.after(async () => { await off.close() })
    const res = await request(`${off.url}/opportunities`, { body: { opportunities: [opp('vf-off', { NoSuchField: 'x' })] } })
    assert.equal(res.status, 207, res.text)
    assert.match(res.body.results[0].error.message, /NoSuchField.*\(1006\)$/)
    assert.equal(upstreamCalls(off.sim, 'describeMObject'), 0)
  })
})

describe('REST reads by several keys or GUIDs: calls of up to 300 filterValues (issue #14)', () => {
  let gw: TestGateway
  before(async () => {
    gw = await startGateway({ backend: 'rest', env: { COALESCE_WINDOW_MS: '0', MARKETO_RATE_LIMIT_WINDOW_MS: '0' } })
    const res = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: Array.from({ length: 310 }, (_, i) => ({ externalKey: { name: 'opportunityId', value: key(i) }, name: `Lookup ${i}` })) } })
    assert.equal(res.status, 200, res.text.slice(0, 300))
  })
  after(async () => { await gw.close() })

  const lookup = (values: string[]): string => `${gw.url}/opportunities?externalKey.name=opportunityId&${values.map((v) => `externalKey.value=${v}`).join('&')}`

  it('250 keys, one of them missing: one call, the opportunities in the order of the keys, the missing key in notFound', async () => {
    const keys = shuffled([...Array.from({ length: 249 }, (_, i) => key(i)), 'lk-missing'])
    const from = gw.sim.ledger.length
    const res = await request(lookup(keys))
    assert.equal(res.status, 200, res.text.slice(0, 300))
    assert.deepEqual(res.body.items.map((o: { externalKey: { value: string } }) => o.externalKey.value), keys.filter((k) => k !== 'lk-missing'))
    assert.deepEqual(res.body.items[0].externalKey.name, 'opportunityId')
    assert.equal(res.body.nextCursor, null)
    assert.deepEqual(res.body.notFound, ['lk-missing'])
    const sent = entries(gw, from, 'getMObjects')
    assert.equal(sent.length, 1)
    assert.equal(params(sent[0]).get('filterType'), 'externalOpportunityId')
    assert.equal(params(sent[0]).get('filterValues'), keys.join(','))
  })

  it('301 keys: two calls (300 and 1 filterValues), results in input order, duplicates read once', async () => {
    const keys = shuffled(Array.from({ length: 301 }, (_, i) => key(i)))
    const from = gw.sim.ledger.length
    const res = await request(lookup([...keys, keys[0]]))
    assert.equal(res.status, 200, res.text.slice(0, 300))
    assert.deepEqual(res.body.items.map((o: { externalKey: { value: string } }) => o.externalKey.value), keys)
    assert.deepEqual(res.body.notFound, [])
    const sent = entries(gw, from, 'getMObjects')
    assert.deepEqual(sent.map((e) => params(e).get('filterValues')?.split(',').length), [300, 1])
    assert.equal(params(sent[1]).get('filterValues'), keys[300])
    // Pages of 300: one answer holds a chunk's matches.
    assert.deepEqual(sent.map((e) => params(e).get('batchSize')), ['300', '1'])
  })

  it('several marketoGUIDs: one call, in input order, unknown GUIDs in notFound; roles too', async () => {
    const from = gw.sim.ledger.length
    const guids = [toGuid('opportunity', 64), toGuid('opportunity', 999_999), toGuid('opportunity', 4)]
    const res = await request(`${gw.url}/opportunities?${guids.map((g) => `marketoGUID=${g}`).join('&')}`)
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.items.map((o: { marketoGUID: string }) => o.marketoGUID), [guids[0], guids[2]])
    assert.deepEqual(res.body.notFound, [guids[1]])
    assert.equal(entries(gw, from, 'getMObjects').length, 1)
    const roles = await request(`${gw.url}/opportunities/roles?marketoGUID=${toGuid('role', 11)}&marketoGUID=${toGuid('role', 10)}`)
    assert.equal(roles.status, 200, roles.text)
    assert.deepEqual(roles.body.items.map((r: { marketoGUID: string }) => r.marketoGUID), [toGuid('role', 10)])
    assert.deepEqual(roles.body.notFound, [toGuid('role', 11)])
  })

  it('the roles of 301 opportunities by their keys: calls of 300 and 1 keys one after the other, paged by the cursor, the first 300 keys\' roles first', async () => {
    const keys = shuffled(Array.from({ length: 301 }, (_, i) => key(i)))
    const roles = await request(`${gw.url}/opportunities/roles`, { body: { roles: keys.map((k) => ({ opportunity: { externalKey: { name: 'opportunityId', value: k } }, personId: 19, role: 'Lookup' })) } })
    assert.equal(roles.status, 200, roles.text.slice(0, 300))
    const from = gw.sim.ledger.length
    const base = `${gw.url}/opportunities/roles?opportunity.externalKey.name=opportunityId&${keys.map((k) => `opportunity.externalKey.value=${k}`).join('&')}&limit=100`
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const res = await request(cursor === null ? base : `${base}&cursor=${cursor}`)
      assert.equal(res.status, 200, res.text.slice(0, 300))
      seen.push(...res.body.items.map((r: { opportunity: { externalKey: { value: string } } }) => r.opportunity.externalKey.value))
      cursor = res.body.nextCursor
    } while (cursor !== null)
    assert.equal(seen.length, 301)
    assert.deepEqual(new Set(seen.slice(0, 300)), new Set(keys.slice(0, 300)))
    assert.equal(seen[300], keys[300])
    const sent = entries(gw, from, 'getMObjects')
    assert.deepEqual(sent.map((e) => params(e).get('filterValues')?.split(',').length), [300, 300, 300, 1])
    assert.deepEqual(sent.map((e) => params(e).has('nextPageToken')), [false, true, true, false])
  })

  it('a lookup by several values has one page: a cursor answers 400 before any call; so do GUIDs with a key', async () => {
    let from = gw.sim.ledger.length
    assertRestRefusal(await request(`${lookup([key(1), key(2)])}&cursor=abc`), gw.sim, from, /one page/)
    from = gw.sim.ledger.length
    const guids = `marketoGUID=${toGuid('opportunity', 4)}&marketoGUID=${toGuid('opportunity', 7)}`
    assertRestRefusal(await request(`${lookup([key(1)])}&${guids}`), gw.sim, from, /one field per call/)
  })
})

describe('SOAP backend: several externalKey.value', () => {
  it('answers 400 naming the parameter, before any call (SOAP looks up one key per call)', async (t) => {
    const gw = await startGateway({ backend: 'soap' })
    t.after(async () => { await gw.close() })
    const before = upstreamCalls(gw.sim, 'getMObjects')
    const res = await request(`${gw.url}/opportunities?externalKey.name=opportunityId&externalKey.value=Opportunity_1&externalKey.value=Opportunity_3`)
    assert.equal(res.status, 400, res.text)
    assert.deepEqual(res.body.errors, [{ path: 'querystring:/externalKey.value', message: 'is REST-only: SOAP getMObjects looks up one external key per call (send one value per request, or use MARKETO_BACKEND=rest)' }])
    assert.equal(upstreamCalls(gw.sim, 'getMObjects'), before)
    const roles = await request(`${gw.url}/opportunities/roles?opportunity.externalKey.name=opportunityId&opportunity.externalKey.value=Opportunity_1&opportunity.externalKey.value=Opportunity_3`)
    assert.equal(roles.status, 400, roles.text)
    assert.deepEqual(roles.body.errors.map((e: { path: string }) => e.path), ['querystring:/opportunity.externalKey.value'])
    assert.equal(upstreamCalls(gw.sim, 'getMObjects'), before)
    const one = await request(`${gw.url}/opportunities?externalKey.name=opportunityId&externalKey.value=Opportunity_3`)
    assert.equal(one.status, 200, one.text)
    assert.deepEqual(one.body.items.map((o: { id: number }) => o.id), [64])
    assert.equal(one.body.notFound, undefined)
  })
})

describe('REST GET /programs by tag and by browsing (issue #14)', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ backend: 'rest' }) })
  after(async () => { await gw.close() })

  it('by tag: one Get Programs by Tag, then each program by id for its costs; the same programs as by name', async () => {
    const byName = await request(`${gw.url}/programs?name=Summer%20Webinar%20Series`)
    const from = gw.sim.ledger.length
    const res = await request(`${gw.url}/programs?tagType=Channel&tagValue=Webinar`)
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body, byName.body)
    assert.equal(res.body.items[0].costs.length, 2)
    const sent = entries(gw, from, 'getMObjects')
    assert.deepEqual(sent.map((e) => e.path), ['/rest/asset/v1/program/byTag.json', '/rest/asset/v1/program/1970.json'])
    assert.deepEqual(Object.fromEntries(params(sent[0])), { tagType: 'Channel', tagValue: 'Webinar', maxReturn: '200' })
    const content = await request(`${gw.url}/programs?tagType=Channel&tagValue=Content&workspaceName=Default`)
    assert.deepEqual(content.body.items.map((p: { id: number, tags: unknown }) => [p.id, p.tags]), [
      [1001, [{ type: 'Channel', value: 'Content' }]],
      [1002, [{ type: 'Channel', value: 'Content' }, { type: 'Product Line', value: 'Coffee' }]]
    ])
  })

  it('by tag, paged by the gateway in id order: limit=1 serves one program a page', async () => {
    const first = await request(`${gw.url}/programs?tagType=Channel&tagValue=Content&limit=1`)
    assert.deepEqual(first.body.items.map((p: { id: number }) => p.id), [1001])
    assert.notEqual(first.body.nextCursor, null)
    const second = await request(`${gw.url}/programs?tagType=Channel&tagValue=Content&limit=1&cursor=${first.body.nextCursor}`)
    assert.deepEqual([second.body.items.map((p: { id: number }) => p.id), second.body.nextCursor], [[1002], null])
  })

  it('without filters: Get Programs (browse) by maxReturn and offset, each program then by id', async () => {
    const from = gw.sim.ledger.length
    const first = await request(`${gw.url}/programs?limit=2`)
    assert.equal(first.status, 200, first.text)
    assert.deepEqual(first.body.items.map((p: { id: number }) => p.id), [1001, 1002])
    const second = await request(`${gw.url}/programs?limit=2&cursor=${first.body.nextCursor}`)
    assert.deepEqual([second.body.items.map((p: { id: number, costs: unknown[] }) => [p.id, p.costs.length]), second.body.nextCursor], [[[1970, 2]], null])
    const browse = entries(gw, from, 'getMObjects').filter((e) => e.path === '/rest/asset/v1/programs.json')
    assert.deepEqual(browse.map((e) => Object.fromEntries(params(e))), [{ maxReturn: '2', offset: '0' }, { maxReturn: '2', offset: '2' }])
    assert.equal(entries(gw, from, 'getMObjects').filter((e) => /^\/rest\/asset\/v1\/program\/\d+\.json$/.test(e.path)).length, 3)
    const elsewhere = await request(`${gw.url}/programs?workspaceName=Elsewhere`)
    assert.deepEqual(elsewhere.body, { items: [], nextCursor: null })
  })

  it('a tag type without a value answers 400 naming tagValue, before any call', async () => {
    const from = gw.sim.ledger.length
    const res = await request(`${gw.url}/programs?tagType=Channel`)
    assertRestRefusal(res, gw.sim, from, /tagType and tagValue/)
    assert.deepEqual(res.body.errors.map((e: { path: string }) => e.path), ['querystring:/tagValue'])
  })

  it('pages of at most 20 programs by tag or browsing (each costs a Get Program by Id): 21 calls a page at most', async (t) => {
    const seed = loadSeed()
    const base = seed.programs[0]
    for (let i = 0; i < 30; i++) seed.programs.push({ ...structuredClone(base), id: 5_000 + i, name: `Paged ${i}`, treePath: `/Marketing Activities/Default/Training/Paged ${i}`, tags: [{ type: 'Channel', value: 'Content' }] })
    const paged = await startGateway({ backend: 'rest', simulator: { seed } })
    t.after(async () => { await paged.close() })
    for (const [query, first, total] of [['tagType=Channel&tagValue=Content', '/rest/asset/v1/program/byTag.json', 32], ['', '/rest/asset/v1/programs.json', 33]] as const) {
      const seen: number[] = []
      let cursor: string | null = null
      do {
        const from = paged.sim.ledger.length
        const res = await request(`${paged.url}/programs?${query}${cursor === null ? '' : `&cursor=${cursor}`}`)
        assert.equal(res.status, 200, res.text)
        assert.ok(res.body.items.length <= 20)
        const sent = entries(paged, from, 'getMObjects')
        assert.equal(sent[0].path, first)
        assert.equal(sent.length, 1 + res.body.items.length)
        seen.push(...res.body.items.map((p: { id: number }) => p.id))
        cursor = res.body.nextCursor
      } while (cursor !== null)
      assert.equal(seen.length, total)
      assert.deepEqual(seen, [...seen].sort((a, b) => a - b))
    }
  })

  it('a tag with 200 programs or more answers 501: byTag answers in random order, so it cannot be paged faithfully', async (t) => {
    const seed = loadSeed()
    const base = seed.programs[0]
    for (let i = 0; i < 200; i++) seed.programs.push({ ...structuredClone(base), id: 5_000 + i, name: `Many ${i}`, treePath: `/Marketing Activities/Default/Training/Many ${i}`, tags: [{ type: 'Channel', value: 'Content' }] })
    const many = await startGateway({ backend: 'rest', simulator: { seed } })
    t.after(async () => { await many.close() })
    const res = await request(`${many.url}/programs?tagType=Channel&tagValue=Content`)
    assert.equal(res.status, 501, res.text)
    assert.equal(res.body.code, 'BACKEND_UNSUPPORTED')
    assert.match(res.body.detail, /random order/)
  })
})
