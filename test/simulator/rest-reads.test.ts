import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DEMO_REST_CLIENT_ID, DEMO_REST_CLIENT_SECRET, toGuid, type RunningSimulator } from '../../simulator/index.js'
import { restRequestProblems } from '../helpers/rest-schema.js'
import { envelope, post, start, type Closeable } from './helpers.js'

// The REST face's describe, delete and paged lookups, over real HTTP, against the same store the
// SOAP face answers from. Every request body sent is checked against the official OpenAPI subset.

type Json = Record<string, any>

interface Rest {
  sim: RunningSimulator
  get (path: string, query?: Record<string, string> | URLSearchParams): Promise<Json>
  post (path: string, body: unknown): Promise<Json>
}

async function open (t: Closeable): Promise<Rest> {
  const sim = await start(t, { host: '127.0.0.1', port: 0 })
  const tokenRes = await fetch(`${sim.restEndpoint}/identity/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO_REST_CLIENT_ID, client_secret: DEMO_REST_CLIENT_SECRET })
  })
  const { access_token: token } = await tokenRes.json() as { access_token: string }
  const call = async (path: string, init: RequestInit): Promise<Json> => {
    const before = sim.ledger.length
    const res = await fetch(`${sim.restEndpoint}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } })
    assert.equal(res.status, 200)
    const body = await res.json() as Json
    // Whatever body was sent conforms to the subset's request schema (some GETs here send bad
    // query values on purpose; the gateway's GETs are checked in test/helpers/gateway.ts).
    if (init.method !== 'GET') for (const e of sim.ledger.slice(before)) assert.deepEqual(restRequestProblems(e), [])
    return body
  }
  return {
    sim,
    get: (path, query = {}) => call(`${path}?${new URLSearchParams(query)}`, { method: 'GET' }),
    post: (path, body) => call(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  }
}

const OPPS = '/rest/v1/opportunities.json'
const ROLES = '/rest/v1/opportunities/roles.json'
const reason1013 = [{ code: '1013', message: 'Object not found' }]

async function soapFieldNames (sim: RunningSimulator, objectName: string): Promise<Array<{ name: string, dataType: string }>> {
  const reply = await post(sim, envelope(`<ns1:paramsDescribeMObject><objectName>${objectName}</objectName></ns1:paramsDescribeMObject>`), 'describeMObject')
  assert.equal(reply.status, 200)
  return [...reply.body.matchAll(/<field><name>([^<]+)<\/name>[\s\S]*?<dataType>([^<]+)<\/dataType>/g)].map((m) => ({ name: m[1], dataType: m[2] }))
}

async function soapOpportunityIds (sim: RunningSimulator, inner: string): Promise<number[]> {
  const reply = await post(sim, envelope(`<ns1:paramsGetMObjects>${inner}</ns1:paramsGetMObjects>`), 'getMObjects')
  assert.equal(reply.status, 200, reply.body)
  return [...reply.body.matchAll(/<mObject><type>\w+<\/type><id>(\d+)<\/id>/g)].map((m) => Number(m[1]))
}

async function createOpportunities (rest: Rest, keys: string[], extra: Record<string, unknown> = {}): Promise<string[]> {
  const body = { action: 'createOnly', input: keys.map((k) => ({ externalOpportunityId: k, name: `Opp ${k}`, ...extra })) }
  const res = await rest.post(OPPS, body)
  assert.deepEqual(res.result.map((r: Json) => r.status), keys.map(() => 'created'), JSON.stringify(res))
  return res.result.map((r: Json) => r.marketoGUID)
}

describe('REST face: describe', () => {
  it('opportunities/describe.json: the documented shape, the SOAP describe\'s fields under their REST names', async (t) => {
    const rest = await open(t)
    const res = await rest.get('/rest/v1/opportunities/describe.json')
    assert.equal(res.success, true)
    assert.equal(res.result.length, 1)
    const d = res.result[0]
    assert.deepEqual(Object.keys(d), ['name', 'displayName', 'createdAt', 'updatedAt', 'idField', 'dedupeFields', 'searchableFields', 'fields'])
    assert.equal(d.name, 'opportunity')
    assert.equal(d.displayName, 'Opportunity')
    assert.equal(d.createdAt, '2014-01-01T00:00:00Z')
    assert.equal(d.idField, 'marketoGUID')
    assert.deepEqual(d.dedupeFields, ['externalOpportunityId'])
    assert.deepEqual(d.searchableFields, [['externalOpportunityId'], ['marketoGUID']])

    const soap = await soapFieldNames(rest.sim, 'Opportunity')
    // The names the REST docs' describes print (opportunities.md: Describe, Get Opportunity Fields);
    // a field no describe shows takes Marketo's camelCase API name.
    const documented: Record<string, string> = { Id: 'marketoGUID', CreatedAt: 'createdAt', UpdatedAt: 'updatedAt', opportunityId: 'externalOpportunityId', Name: 'name', Description: 'description', Type: 'type', Stage: 'stage' }
    const custom = new Set(['cAccountFSID', 'ProductLine', 'DealScore'])
    assert.equal(soap.length, 26)
    assert.deepEqual(d.fields.map((f: Json) => f.name), soap.map((f) => documented[f.name] ?? (custom.has(f.name) ? f.name : f.name.charAt(0).toLowerCase() + f.name.slice(1))))
    assert.deepEqual(d.fields.map((f: Json) => f.name).slice(-3), ['cAccountFSID', 'ProductLine', 'DealScore'], 'custom fields keep their names')
    // Same types as the SOAP describe, except the GUID that stands for the integer id and the
    // types the REST docs print (Description: string of 2000).
    soap.forEach((f, i) => { if (f.name !== 'Id' && f.name !== 'Description') assert.equal(d.fields[i].dataType, f.dataType, f.name) })

    const field = (name: string): Json => d.fields.find((f: Json) => f.name === name)
    assert.deepEqual(field('marketoGUID'), { name: 'marketoGUID', displayName: 'Marketo GUID', dataType: 'string', length: 36, updateable: false, crmManaged: false })
    assert.deepEqual(field('externalOpportunityId'), { name: 'externalOpportunityId', displayName: 'External Opportunity Id', dataType: 'string', length: 50, updateable: false, crmManaged: false })
    assert.deepEqual(field('name'), { name: 'name', displayName: 'Name', dataType: 'string', length: 255, updateable: true, crmManaged: false })
    assert.deepEqual(field('description'), { name: 'description', displayName: 'Description', dataType: 'string', length: 2000, updateable: true, crmManaged: false })
    assert.deepEqual([field('type').length, field('stage').length], [255, 255])
    assert.deepEqual(field('expectedRevenue'), { name: 'expectedRevenue', displayName: 'Expected Revenue', dataType: 'currency', updateable: true, crmManaged: false })
    assert.deepEqual(field('updatedAt'), { name: 'updatedAt', displayName: 'Updated At', dataType: 'datetime', updateable: false, crmManaged: false })
    assert.deepEqual(field('ProductLine'), { name: 'ProductLine', displayName: 'Product Line', dataType: 'string', length: 100, updateable: true, crmManaged: false })

    const entry = rest.sim.ledger.at(-1)
    assert.equal(entry?.operation, 'describeMObject')
    assert.equal(entry?.applied, true)
  })

  it('roles/describe.json: compound dedupe key, the 8 SOAP role fields under REST names', async (t) => {
    const rest = await open(t)
    const d = (await rest.get('/rest/v1/opportunities/roles/describe.json')).result[0]
    assert.equal(d.name, 'opportunityRole')
    assert.equal(d.displayName, 'Opportunity Role')
    assert.deepEqual(d.dedupeFields, ['externalOpportunityId', 'leadId', 'role'])
    assert.deepEqual(d.searchableFields, [['externalOpportunityId', 'leadId', 'role'], ['marketoGUID'], ['leadId'], ['externalOpportunityId']])
    const soap = await soapFieldNames(rest.sim, 'OpportunityPersonRole')
    assert.deepEqual(soap.map((f) => f.name), ['Id', 'OpportunityId', 'PersonId', 'Role', 'IsPrimary', 'ExternalCreatedDate', 'CreatedAt', 'UpdatedAt'])
    assert.deepEqual(d.fields.map((f: Json) => [f.name, f.dataType, f.updateable]), [
      ['marketoGUID', 'string', false], ['externalOpportunityId', 'string', false], ['leadId', 'integer', false], ['role', 'string', false],
      ['isPrimary', 'boolean', true], ['externalCreatedDate', 'datetime', true], ['createdAt', 'datetime', false], ['updatedAt', 'datetime', false]
    ])
    assert.equal(d.fields[2].length, undefined, 'an integer has no length')
    assert.equal(d.fields[3].length, 50, 'role: length 50, as the docs\' describe')
    assert.equal(d.fields[1].length, 50)
  })

  it('a record carries only fields its describe lists', async (t) => {
    const rest = await open(t)
    await createOpportunities(rest, ['desc-1'], { ProductLine: 'Tea', DealScore: 3, isWon: true })
    for (const [describePath, path, filter] of [['/rest/v1/opportunities/describe.json', OPPS, 'desc-1'], ['/rest/v1/opportunities/roles/describe.json', ROLES, 'Opportunity_1']]) {
      const names = new Set((await rest.get(describePath)).result[0].fields.map((f: Json) => f.name))
      const all = [...names].filter((n) => n !== 'marketoGUID').join(',')
      for (const query of [{}, { fields: all }] as Array<Record<string, string>>) {
        const records = (await rest.get(path, { filterType: 'externalOpportunityId', filterValues: filter, ...query })).result
        assert.equal(records.length, 1)
        for (const key of Object.keys(records[0])) assert.ok(key === 'seq' || names.has(key), `${path}: ${key} is not in the describe`)
      }
    }
    const [record] = (await rest.get(OPPS, { filterType: 'externalOpportunityId', filterValues: 'desc-1', fields: 'ProductLine,DealScore' })).result
    assert.equal(record.ProductLine, 'Tea')
    assert.equal(record.DealScore, '3')
  })

  it('describe goes through the token check and the knobs', async (t) => {
    const rest = await open(t)
    const noToken = await (await fetch(`${rest.sim.restEndpoint}/rest/v1/opportunities/describe.json`)).json() as Json
    assert.deepEqual(noToken.errors, [{ code: '601', message: 'Access token invalid' }])
    rest.sim.knobs.enqueue({ fault: 606 })
    const limited = await rest.get('/rest/v1/opportunities/roles/describe.json')
    assert.equal(limited.success, false)
    assert.equal(limited.errors[0].code, '606')
    assert.equal((await rest.get('/rest/v1/opportunities/roles/describe.json')).success, true)
  })
})

describe('REST face: delete', () => {
  it('by externalOpportunityId: deleted with its GUID, unknown ones skipped 1013; the roles go too', async (t) => {
    const rest = await open(t)
    const before = await rest.get(ROLES, { filterType: 'externalOpportunityId', filterValues: 'Opportunity_1' })
    assert.deepEqual(before.result.map((r: Json) => r.marketoGUID), [toGuid('role', 10)])
    const res = await rest.post('/rest/v1/opportunities/delete.json', { deleteBy: 'dedupeFields', input: [{ externalOpportunityId: 'Opportunity_1' }, { externalOpportunityId: 'nobody' }] })
    assert.deepEqual(res.result, [
      { seq: 0, marketoGUID: toGuid('opportunity', 4), status: 'deleted' },
      { seq: 1, status: 'skipped', reasons: reason1013 }
    ])
    const entry = rest.sim.ledger.at(-1)
    assert.equal(entry?.operation, 'deleteMObjects')
    assert.equal(entry?.applied, true)
    assert.deepEqual(entry?.statuses?.map((s) => [s.id, s.status]), [[4, 'DELETED']])
    // The cascade, seen through both REST lookups and the SOAP face.
    assert.deepEqual((await rest.get(ROLES, { filterType: 'externalOpportunityId', filterValues: 'Opportunity_1' })).result, [])
    assert.deepEqual((await rest.get(ROLES, { filterType: 'leadId', filterValues: '19' })).result, [])
    assert.deepEqual((await rest.get(OPPS, { filterType: 'externalOpportunityId', filterValues: 'Opportunity_1' })).result, [])
    assert.deepEqual(await soapOpportunityIds(rest.sim, '<type>Opportunity</type><id>4</id>'), [])
    assert.deepEqual(await soapOpportunityIds(rest.sim, '<type>OpportunityPersonRole</type><id>10</id>'), [])
    assert.deepEqual(await soapOpportunityIds(rest.sim, '<type>Opportunity</type>'), [7, 64])
  })

  it('deleteBy defaults to dedupeFields; by idField a GUID deletes once, then is not found', async (t) => {
    const rest = await open(t)
    const dflt = await rest.post('/rest/v1/opportunities/delete.json', { input: [{ externalOpportunityId: 'Opportunity_3' }] })
    assert.deepEqual(dflt.result, [{ seq: 0, marketoGUID: toGuid('opportunity', 64), status: 'deleted' }])
    const body = { deleteBy: 'idField', input: [{ marketoGUID: toGuid('opportunity', 7) }, { marketoGUID: toGuid('role', 10) }, { marketoGUID: 'not-a-guid' }] }
    const first = await rest.post('/rest/v1/opportunities/delete.json', body)
    assert.deepEqual(first.result, [
      { seq: 0, marketoGUID: toGuid('opportunity', 7), status: 'deleted' },
      { seq: 1, status: 'skipped', reasons: reason1013 },
      { seq: 2, status: 'skipped', reasons: reason1013 }
    ])
    assert.deepEqual(await soapOpportunityIds(rest.sim, '<type>Opportunity</type>'), [4])
    const again = await rest.post('/rest/v1/opportunities/delete.json', { deleteBy: 'idField', input: [{ marketoGUID: toGuid('opportunity', 7) }] })
    assert.deepEqual(again.result, [{ seq: 0, status: 'skipped', reasons: reason1013 }])
    assert.equal(rest.sim.ledger.at(-1)?.applied, false, 'nothing deleted, nothing applied')
  })

  it('roles: by the compound key (all three must match) and by marketoGUID; the opportunity stays', async (t) => {
    const rest = await open(t)
    const sync = await rest.post(ROLES, { action: 'createOnly', input: [{ externalOpportunityId: 'Opportunity_3', leadId: 6, role: 'Champion' }] })
    const guid = sync.result[0].marketoGUID as string
    const wrong = await rest.post('/rest/v1/opportunities/roles/delete.json', { deleteBy: 'dedupeFields', input: [{ externalOpportunityId: 'Opportunity_3', leadId: 6, role: 'Decision Maker' }, { externalOpportunityId: 'Opportunity_3', leadId: 19, role: 'Champion' }] })
    assert.deepEqual(wrong.result, [{ seq: 0, status: 'skipped', reasons: reason1013 }, { seq: 1, status: 'skipped', reasons: reason1013 }])
    const right = await rest.post('/rest/v1/opportunities/roles/delete.json', { deleteBy: 'dedupeFields', input: [{ externalOpportunityId: 'Opportunity_3', leadId: 6, role: 'Champion' }] })
    assert.deepEqual(right.result, [{ seq: 0, marketoGUID: guid, status: 'deleted' }])
    const byId = await rest.post('/rest/v1/opportunities/roles/delete.json', { deleteBy: 'idField', input: [{ marketoGUID: toGuid('role', 10) }, { marketoGUID: toGuid('opportunity', 64) }] })
    assert.deepEqual(byId.result, [{ seq: 0, marketoGUID: toGuid('role', 10), status: 'deleted' }, { seq: 1, status: 'skipped', reasons: reason1013 }])
    assert.equal(rest.sim.store.roles.size, 0)
    assert.deepEqual(await soapOpportunityIds(rest.sim, '<type>Opportunity</type>'), [4, 7, 64])
    assert.deepEqual(await soapOpportunityIds(rest.sim, '<type>OpportunityPersonRole</type>'), [])
  })

  it('refuses more than 300 records (1003) and a bad deleteBy; a record without its key is skipped 1002', async (t) => {
    const rest = await open(t)
    const many = await rest.post('/rest/v1/opportunities/delete.json', { input: Array.from({ length: 301 }, () => ({ externalOpportunityId: 'Opportunity_1' })) })
    assert.equal(many.success, false)
    assert.equal(many.errors[0].code, '1003')
    assert.equal(rest.sim.store.opportunities.size, 3)
    const bad = await rest.post('/rest/v1/opportunities/roles/delete.json', { deleteBy: 'externalOpportunityId', input: [] })
    assert.deepEqual(bad.errors, [{ code: '1003', message: 'Invalid deleteBy: expected dedupeFields or idField' }])
    const missing = await rest.post('/rest/v1/opportunities/roles/delete.json', { input: [{ externalOpportunityId: 'Opportunity_1', leadId: 19 }] })
    assert.deepEqual(missing.result, [{ seq: 0, status: 'skipped', reasons: [{ code: '1002', message: 'Missing value for the required parameter role' }] }])
    assert.equal(rest.sim.store.roles.size, 1)
  })

  it('the schema check applies to delete bodies too', async (t) => {
    const rest = await open(t)
    const res = await fetch(`${rest.sim.restEndpoint}/rest/v1/opportunities/delete.json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ deleteBy: 'idField', input: [{ marketoGUID: 5 }] }) })
    await res.arrayBuffer()
    const problems = restRequestProblems(rest.sim.ledger.at(-1)!)
    assert.deepEqual(problems, [
      '/rest/v1/opportunities/delete.json: access token not in the Authorization header',
      '/rest/v1/opportunities/delete.json body/input/0/marketoGUID must be string'
    ])
    await fetch(`${rest.sim.restEndpoint}/rest/v1/opportunities/roles/delete.json`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body: '{"deleteBy":"idField"}' }).then((r) => r.arrayBuffer())
    assert.deepEqual(restRequestProblems(rest.sim.ledger.at(-1)!), ['/rest/v1/opportunities/roles/delete.json body must have required property \'input\''])
  })
})

describe('REST face: paged lookups and fields', () => {
  it('pages with batchSize and nextPageToken, in internal id order, seq from 0 on each page', async (t) => {
    const rest = await open(t)
    const keys = Array.from({ length: 7 }, (_, i) => `page-${i}`)
    const guids = await createOpportunities(rest, keys)
    // Asked for in reverse: the order is the records' ids, not the filter's.
    const query = { filterType: 'externalOpportunityId', filterValues: [...keys].reverse().join(','), batchSize: '3' }
    const pages: Json[] = []
    let token: string | undefined
    do {
      const res = await rest.get(OPPS, token === undefined ? query : { ...query, nextPageToken: token })
      assert.equal(res.success, true, JSON.stringify(res))
      pages.push(res)
      token = res.nextPageToken
    } while (token !== undefined && pages.length < 5)
    assert.deepEqual(pages.map((p) => [p.result.length, p.moreResult, typeof p.nextPageToken]), [[3, true, 'string'], [3, true, 'string'], [1, false, 'undefined']])
    assert.deepEqual(pages.flatMap((p) => p.result.map((r: Json) => r.marketoGUID)), guids)
    assert.deepEqual(pages.map((p) => p.result.map((r: Json) => r.seq)), [[0, 1, 2], [0, 1, 2], [0]])
    assert.deepEqual(pages[2].result[0].externalOpportunityId, 'page-6')
    const entry = rest.sim.ledger.at(-1)
    assert.equal(entry?.operation, 'getMObjects')
    assert.equal(entry?.applied, true)
  })

  it('roles page too (filterType leadId)', async (t) => {
    const rest = await open(t)
    const keys = ['r-0', 'r-1', 'r-2', 'r-3', 'r-4']
    await createOpportunities(rest, keys)
    const sync = await rest.post(ROLES, { action: 'createOnly', input: keys.map((k) => ({ externalOpportunityId: k, leadId: 6, role: 'Buyer' })) })
    const guids = sync.result.map((r: Json) => r.marketoGUID)
    const first = await rest.get(ROLES, { filterType: 'leadId', filterValues: '6', batchSize: '2' })
    const second = await rest.get(ROLES, { filterType: 'leadId', filterValues: '6', batchSize: '2', nextPageToken: first.nextPageToken })
    const third = await rest.get(ROLES, { filterType: 'leadId', filterValues: '6', batchSize: '2', nextPageToken: second.nextPageToken })
    assert.deepEqual([first, second, third].map((p) => p.moreResult), [true, true, false])
    assert.deepEqual([first, second, third].flatMap((p) => p.result.map((r: Json) => r.marketoGUID)), guids)
    assert.deepEqual(third.result[0].externalOpportunityId, 'r-4')
    // Default batch: all five on one page.
    const all = await rest.get(ROLES, { filterType: 'leadId', filterValues: '6' })
    assert.deepEqual([all.result.length, all.moreResult, all.nextPageToken], [5, false, undefined])
  })

  it('an unknown, garbled or foreign nextPageToken and a batchSize outside 1..300 are 1003', async (t) => {
    const rest = await open(t)
    await createOpportunities(rest, ['tok-0', 'tok-1'])
    const q = { filterType: 'externalOpportunityId', filterValues: 'tok-0,tok-1' }
    const real = (await rest.get(OPPS, { ...q, batchSize: '1' })).nextPageToken as string
    assert.equal(typeof real, 'string')
    // Short like Marketo's, however many filterValues the query has.
    const many = (await rest.get(OPPS, { filterType: 'externalOpportunityId', filterValues: ['tok-0', 'tok-1', ...Array.from({ length: 298 }, (_, i) => `absent-key-${i}`)].join(','), batchSize: '1' })).nextPageToken as string
    assert.ok(many.length < 100, many)
    const foreign = { filterType: 'externalOpportunityId', filterValues: 'tok-0' }
    for (const [query, code, message] of [
      [{ ...q, nextPageToken: 'E5ZONGE4SAHALYYW6FS25KB5BM======' }, '1003', 'Invalid nextPageToken'],
      [{ ...q, nextPageToken: real.slice(0, -4) }, '1003', 'Invalid nextPageToken'],
      [{ ...foreign, nextPageToken: real }, '1003', 'Invalid nextPageToken'],
      [{ ...q, batchSize: '301' }, '1003', 'Invalid batchSize \'301\': expected 1 to 300'],
      [{ ...q, batchSize: '0' }, '1003', 'Invalid batchSize \'0\': expected 1 to 300'],
      [{ ...q, batchSize: 'ten' }, '1003', 'Invalid batchSize \'ten\': expected 1 to 300']
    ] as const) {
      const res = await rest.get(OPPS, query)
      assert.deepEqual([res.success, res.errors], [false, [{ code, message }]], JSON.stringify(query))
    }
    const max = await rest.get(OPPS, { ...q, batchSize: '300' })
    assert.deepEqual(max.result.map((r: Json) => r.externalOpportunityId), ['tok-0', 'tok-1'])
    const second = await rest.get(OPPS, { ...q, batchSize: '5', nextPageToken: real })
    assert.deepEqual(second.result.map((r: Json) => r.externalOpportunityId), ['tok-1'], 'batchSize may change between pages')
  })

  it('fields: seq, marketoGUID and the fields asked for; unknown names are 1006; without it the default set', async (t) => {
    const rest = await open(t)
    const some = await rest.get(OPPS, { filterType: 'externalOpportunityId', filterValues: 'Opportunity_1,Opportunity_3', fields: 'name,closeDate,cAccountFSID' })
    assert.deepEqual(some.result, [
      { seq: 0, marketoGUID: toGuid('opportunity', 4), name: 'Globex renewal' },
      { seq: 1, marketoGUID: toGuid('opportunity', 64), name: 'Q1 2014', closeDate: '2014-03-31', cAccountFSID: 'C123' }
    ])
    // collectionFormat multi: fields may also be repeated.
    const repeated = new URLSearchParams({ filterType: 'marketoGUID', filterValues: toGuid('opportunity', 7) })
    repeated.append('fields', 'stage')
    repeated.append('fields', 'amount')
    assert.deepEqual((await rest.get(OPPS, repeated)).result, [{ seq: 0, marketoGUID: toGuid('opportunity', 7), stage: 'Qualification', amount: '250' }])
    // No fields: the Query example's set (opportunities.md), not the whole record.
    const plain = await rest.get(OPPS, { filterType: 'externalOpportunityId', filterValues: 'Opportunity_3' })
    assert.deepEqual(plain.result, [{ seq: 0, marketoGUID: toGuid('opportunity', 64), externalOpportunityId: 'Opportunity_3', name: 'Q1 2014', amount: '2000' }])
    const plainRoles = await rest.get(ROLES, { filterType: 'leadId', filterValues: '19' })
    assert.deepEqual(plainRoles.result, [{ seq: 0, marketoGUID: toGuid('role', 10), externalOpportunityId: 'Opportunity_1', leadId: 19, role: 'Decision Maker' }])
    const roles = await rest.get(ROLES, { filterType: 'leadId', filterValues: '19', fields: 'role, isPrimary,leadId' })
    assert.deepEqual(roles.result, [{ seq: 0, marketoGUID: toGuid('role', 10), role: 'Decision Maker', isPrimary: true, leadId: 19 }])
    const unknown = await rest.get(OPPS, { filterType: 'externalOpportunityId', filterValues: 'Opportunity_3', fields: 'name,colour' })
    assert.deepEqual(unknown.errors, [{ code: '1006', message: 'Field \'colour\' not found' }])
    const soapName = await rest.get(OPPS, { filterType: 'externalOpportunityId', filterValues: 'Opportunity_3', fields: 'Name' })
    assert.equal(soapName.errors?.[0].code, '1006', 'REST names only')
  })

  it('other filterTypes stay 1003', async (t) => {
    const rest = await open(t)
    const opp = await rest.get(OPPS, { filterType: 'name', filterValues: 'Q1 2014' })
    assert.deepEqual(opp.errors, [{ code: '1003', message: 'Invalid filterType \'name\': expected externalOpportunityId, dedupeFields or marketoGUID' }])
    const role = await rest.get(ROLES, { filterType: 'role', filterValues: 'Decision Maker' })
    assert.deepEqual(role.errors, [{ code: '1003', message: 'Invalid filterType \'role\': expected externalOpportunityId, leadId, marketoGUID or dedupeFields' }])
  })
})
