import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { DEMO_REST_CLIENT_ID, DEMO_REST_CLIENT_SECRET, toGuid, type RunningSimulator, type SimulatorOptions } from '../../simulator/index.js'
import { restRequestProblems } from '../helpers/rest-schema.js'
import { NOW, start, type Closeable } from './helpers.js'

// The REST face as Marketo's REST docs describe it (adobe-docs-rest/), over real HTTP on
// 127.0.0.1 port 0, independently of the gateway. Every request meant to conform is checked
// against the official OpenAPI subset (test/helpers/rest-schema.ts).

type Json = Record<string, any>

const OPPS = '/rest/v1/opportunities.json'
const ROLES = '/rest/v1/opportunities/roles.json'
const FORM = 'application/x-www-form-urlencoded'

interface Face {
  sim: RunningSimulator
  token: string
  /** Sets the simulator's clock (ms since NOW). */
  at (ms: number): void
  newToken (): Promise<Json>
  send (method: string, path: string, opts?: { query?: Record<string, string> | URLSearchParams, body?: string, type?: string, token?: string | null, conform?: boolean }): Promise<{ status: number, body: Json, text: string }>
  get (path: string, query?: Record<string, string> | URLSearchParams): Promise<Json>
  post (path: string, body: unknown, query?: Record<string, string>): Promise<Json>
  form (path: string, fields: Record<string, string>, query?: Record<string, string>): Promise<Json>
}

async function open (t: Closeable, opts: SimulatorOptions = {}): Promise<Face> {
  let now = NOW.getTime()
  const sim = await start(t, { host: '127.0.0.1', port: 0, clock: () => new Date(now), ...opts })
  const newToken = async (): Promise<Json> => {
    const res = await fetch(`${sim.restEndpoint}/identity/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO_REST_CLIENT_ID, client_secret: DEMO_REST_CLIENT_SECRET })
    })
    assert.equal(res.status, 200)
    return await res.json() as Json
  }
  const face: Face = {
    sim,
    token: (await newToken()).access_token,
    at: (ms) => { now = NOW.getTime() + ms },
    newToken,
    async send (method, path, o = {}) {
      const before = sim.ledger.length
      const q = o.query === undefined ? '' : `?${new URLSearchParams(o.query)}`
      const headers: Record<string, string> = {}
      if (o.token !== null) headers.authorization = `Bearer ${o.token ?? face.token}`
      if (o.type !== undefined) headers['content-type'] = o.type
      const res = await fetch(`${sim.restEndpoint}${path}${q}`, { method, headers, body: o.body })
      const text = await res.text()
      let body: Json = {}
      try { body = JSON.parse(text) } catch { /* not JSON: the caller looks at status and text */ }
      if (o.conform !== false && method === 'POST') for (const e of sim.ledger.slice(before)) assert.deepEqual(restRequestProblems(e), [], `${path}: ${JSON.stringify(e.rest)}`)
      return { status: res.status, body, text }
    },
    async get (path, query = {}) {
      const r = await face.send('GET', path, { query })
      assert.equal(r.status, 200, r.text)
      return r.body
    },
    async post (path, body, query) {
      const r = await face.send('POST', path, { query, body: JSON.stringify(body), type: 'application/json' })
      assert.equal(r.status, 200, r.text)
      return r.body
    },
    async form (path, fields, query) {
      const r = await face.send('POST', path, { query, body: new URLSearchParams(fields).toString(), type: FORM })
      assert.equal(r.status, 200, r.text)
      return r.body
    }
  }
  return face
}

const reasonsOf = (res: Json): Array<string | undefined> => res.result.map((r: Json) => r.reasons?.[0]?.code)
const statusesOf = (res: Json): string[] => res.result.map((r: Json) => r.status)
const storedKeys = (sim: RunningSimulator, key: string): number => [...sim.store.opportunities.values()].filter((o) => o.fields.opportunityId === key).length

describe('REST face: access tokens (the same token until it expires)', () => {
  it('hands back the same token while it is valid, expires_in counting down; at 0 a new one, and the old one answers 602', async (t) => {
    const face = await open(t, { restTokenTtlMs: 3_600_000 })
    const first = face.token
    face.at(1_500)
    const again = await face.newToken()
    assert.equal(again.access_token, first)
    assert.equal(again.expires_in, 3599)
    face.at(3_599_000)
    const last = await face.newToken()
    assert.equal(last.access_token, first)
    assert.equal(last.expires_in, 1)
    assert.equal(face.sim.rest.tokensIssued, 1)

    face.at(3_600_000)
    const used = await face.send('GET', OPPS, { query: { filterType: 'externalOpportunityId', filterValues: 'Opportunity_1' } })
    assert.deepEqual(used.body.errors, [{ code: '602', message: 'Access token expired' }])
    const fresh = await face.newToken()
    assert.notEqual(fresh.access_token, first)
    assert.equal(fresh.expires_in, 3600)
    assert.equal(face.sim.rest.tokensIssued, 2)
    const ok = await face.send('GET', OPPS, { query: { filterType: 'externalOpportunityId', filterValues: 'Opportunity_1' }, token: fresh.access_token })
    assert.equal(ok.body.success, true)
  })

  it('expireTokens() ends the current token: the next token call mints a new one; an unknown token is 601', async (t) => {
    const face = await open(t)
    face.sim.rest.expireTokens()
    const fresh = await face.newToken()
    assert.notEqual(fresh.access_token, face.token)
    assert.equal(face.sim.rest.tokensIssued, 2)
    const unknown = await face.send('GET', OPPS, { query: { filterType: 'externalOpportunityId', filterValues: 'x' }, token: 'not-a-token:sim' })
    assert.deepEqual(unknown.body.errors, [{ code: '601', message: 'Access token invalid' }])
  })
})

describe('REST face: sync records', () => {
  it('an opportunity created without name is skipped 1003 ("the name field must not be null"); an update needs none', async (t) => {
    const face = await open(t)
    const res = await face.post(OPPS, { action: 'createOnly', input: [{ externalOpportunityId: 'nameless-1' }, { externalOpportunityId: 'named-1', name: 'Named' }] })
    assert.deepEqual(statusesOf(res), ['skipped', 'created'])
    assert.deepEqual(res.result[0].reasons, [{ code: '1003', message: 'Invalid data: name must not be null' }])
    assert.equal(storedKeys(face.sim, 'nameless-1'), 0)
    const upsert = await face.post(OPPS, { input: [{ externalOpportunityId: 'nameless-2', stage: 'New' }, { externalOpportunityId: 'named-1', stage: 'Won' }] })
    assert.deepEqual(statusesOf(upsert), ['skipped', 'updated'], 'createOrUpdate: creating needs a name, updating does not')
    assert.deepEqual(reasonsOf(upsert), ['1003', undefined])
    const nulled = await face.post(OPPS, { action: 'updateOnly', input: [{ externalOpportunityId: 'named-1', name: null }] })
    assert.deepEqual(reasonsOf(nulled), ['1003'])
    assert.equal([...face.sim.store.opportunities.values()].find((o) => o.fields.opportunityId === 'named-1')?.fields.Name, 'Named')
  })

  it('1036 when one input names the same record twice: the first is applied, the repeat skipped', async (t) => {
    const face = await open(t)
    const opps = await face.post(OPPS, { input: [{ externalOpportunityId: 'dup-1', name: 'A' }, { externalOpportunityId: 'dup-2', name: 'B' }, { externalOpportunityId: 'dup-1', name: 'C' }] })
    assert.deepEqual(statusesOf(opps), ['created', 'created', 'skipped'])
    assert.deepEqual(opps.result[2].reasons, [{ code: '1036', message: 'Duplicate object found in input' }])
    assert.equal(storedKeys(face.sim, 'dup-1'), 1)
    assert.equal([...face.sim.store.opportunities.values()].find((o) => o.fields.opportunityId === 'dup-1')?.fields.Name, 'A')

    const byGuid = await face.post(OPPS, { action: 'updateOnly', dedupeBy: 'idField', input: [{ marketoGUID: toGuid('opportunity', 4), stage: 'x' }, { marketoGUID: toGuid('opportunity', 4), stage: 'y' }] })
    assert.deepEqual(reasonsOf(byGuid), [undefined, '1036'])

    const role = { externalOpportunityId: 'dup-1', leadId: 19, role: 'Buyer' }
    // The compound key is (externalOpportunityId, leadId, role): another role of the same lead is another record.
    const roles = await face.post(ROLES, { input: [role, { ...role, role: 'Champion' }, { ...role, isPrimary: true }] })
    assert.deepEqual(statusesOf(roles), ['created', 'created', 'skipped'])
    assert.deepEqual(reasonsOf(roles), [undefined, undefined, '1036'])
    assert.equal([...face.sim.store.roles.values()].filter((r) => r.personId === 19 && ['Buyer', 'Champion'].includes(r.fields.Role)).length, 2)
    const again = await face.post(ROLES, { input: [{ ...role, isPrimary: true }] })
    assert.deepEqual(statusesOf(again), ['updated'])
  })
})

describe('REST face: reads by POST ?_method=GET, URI length, filter types', () => {
  it('a form-encoded POST ?_method=GET answers as the GET does, for opportunities, roles and programs', async (t) => {
    const face = await open(t)
    const query = { filterType: 'externalOpportunityId', filterValues: 'Opportunity_1,Opportunity_3', fields: 'name,stage' }
    const byGet = await face.get(OPPS, query)
    const byPost = await face.form(OPPS, query, { _method: 'GET' })
    assert.equal(byGet.result.length, 2)
    assert.deepEqual(byPost.result, byGet.result)
    assert.equal(face.sim.ledger.at(-1)?.operation, 'getMObjects')

    const roleQuery = { filterType: 'leadId', filterValues: '19', fields: 'role,isPrimary' }
    assert.deepEqual((await face.form(ROLES, roleQuery, { _method: 'GET' })).result, (await face.get(ROLES, roleQuery)).result)
    const program = await face.form('/rest/asset/v1/program/1970.json', {}, { _method: 'GET' })
    assert.equal(program.result[0].id, 1970)
    assert.equal(program.result[0].costs.length, 2, 'a read: nothing was updated')
    // Get Program by Name is not in the OpenAPI subset, so its request is not schema-checked.
    const byName = await face.send('POST', '/rest/asset/v1/program/byName.json', { query: { _method: 'GET' }, body: 'name=Program01', type: FORM, conform: false })
    assert.deepEqual(byName.body.result.map((p: Json) => p.id), [1001])
  })

  it('a GET longer than 8 KB answers 414; the same query as POST ?_method=GET is answered', async (t) => {
    const face = await open(t)
    const guids = Array.from({ length: 240 }, (_, i) => toGuid('opportunity', i + 1))
    const query = { filterType: 'marketoGUID', filterValues: guids.join(','), fields: 'name' }
    const long = await face.send('GET', OPPS, { query })
    assert.equal(long.status, 414)
    assert.ok(`${OPPS}?${new URLSearchParams(query)}`.length > 8 * 1024)
    const posted = await face.form(OPPS, query, { _method: 'GET' })
    assert.deepEqual(posted.result.map((r: Json) => r.marketoGUID), [4, 7, 64].map((id) => toGuid('opportunity', id)))
  })

  it('filterValues: up to 300, repeated or comma-separated; 301 is refused', async (t) => {
    const face = await open(t)
    const values = ['Opportunity_1', ...Array.from({ length: 298 }, (_, i) => `none-${i}`), 'Opportunity_3']
    const three = await face.form(OPPS, { filterType: 'externalOpportunityId', filterValues: values.join(','), fields: 'name' }, { _method: 'GET' })
    assert.deepEqual(three.result.map((r: Json) => r.name), ['Globex renewal', 'Q1 2014'])
    const repeated = new URLSearchParams({ filterType: 'externalOpportunityId', fields: 'name' })
    repeated.append('filterValues', 'Opportunity_1')
    repeated.append('filterValues', 'Opportunity_3')
    assert.equal((await face.get(OPPS, repeated)).result.length, 2)
    const tooMany = await face.form(OPPS, { filterType: 'externalOpportunityId', filterValues: [...values, 'one-more'].join(',') }, { _method: 'GET' })
    assert.equal(tooMany.success, false)
    assert.equal(tooMany.errors[0].code, '1003')
  })

  it('roles by filterType=externalOpportunityId (several values) and by the compound dedupeFields key', async (t) => {
    const face = await open(t)
    await face.post(OPPS, { input: [{ externalOpportunityId: 'cmp-1', name: 'Compound' }] })
    await face.post(ROLES, { input: [{ externalOpportunityId: 'cmp-1', leadId: 6, role: 'Captain' }, { externalOpportunityId: 'cmp-1', leadId: 19, role: 'Commander' }] })
    const byExt = await face.get(ROLES, { filterType: 'externalOpportunityId', filterValues: 'Opportunity_1,cmp-1', fields: 'role' })
    assert.deepEqual(byExt.result.map((r: Json) => r.role), ['Decision Maker', 'Captain', 'Commander'])

    // opportunity-roles.md's compound query: JSON body, fields as an array ("marketoGuid" as the docs spell it).
    const compound = await face.post(ROLES, {
      filterType: 'dedupeFields',
      fields: ['marketoGuid', 'externalOpportunityId', 'leadId', 'role'],
      input: [{ externalOpportunityId: 'cmp-1', leadId: 19, role: 'Commander' }, { externalOpportunityId: 'cmp-1', leadId: 19, role: 'Captain' }, { externalOpportunityId: 'Opportunity_1', leadId: 19, role: 'Decision Maker' }]
    }, { _method: 'GET' })
    assert.equal(compound.success, true, JSON.stringify(compound))
    assert.deepEqual(compound.result.map((r: Json) => [r.externalOpportunityId, r.leadId, r.role]), [['Opportunity_1', 19, 'Decision Maker'], ['cmp-1', 19, 'Commander']])
    assert.ok(compound.result.every((r: Json) => typeof r.marketoGUID === 'string'))
    assert.equal(face.sim.store.roles.size, 3, 'a query writes nothing')

    const byGet = await face.get(ROLES, { filterType: 'dedupeFields', filterValues: 'cmp-1' })
    assert.equal(byGet.errors[0].code, '1003', 'a compound key has no comma form')
    const opps = await face.get(OPPS, { filterType: 'dedupeFields', filterValues: 'cmp-1', fields: 'name' })
    assert.deepEqual(opps.result.map((r: Json) => r.name), ['Compound'], 'an opportunity\'s dedupe key is externalOpportunityId')
  })
})

describe('REST face: programs as programs.md shows them', () => {
  const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\+0000$/

  it('Get Program by Id: type casing, folderName, costs and tags null when none, timestamps, headStart', async (t) => {
    const face = await open(t)
    const [p] = (await face.get('/rest/asset/v1/program/1970.json')).result
    assert.equal(p.type, 'Event')
    assert.deepEqual(p.folder, { type: 'Folder', value: 1040, folderName: 'Webinars' })
    assert.equal(p.channel, 'Webinar')
    assert.equal(p.tags, null, 'the channel is not a tag')
    assert.deepEqual(p.costs, [{ startDate: '2013-05-01', cost: 1200, note: 'Kick-off' }, { startDate: '2013-06-01', cost: 1500 }])
    assert.equal(p.createdAt, '2013-05-20T09:30:00Z+0000')
    assert.match(p.updatedAt, STAMP)
    assert.equal(p.headStart, false)
    const [other] = (await face.get('/rest/asset/v1/program/1002.json')).result
    assert.equal(other.type, 'Default', 'a SOAP "Marketing Program" is a Default program')
    assert.equal(other.costs, null)
    assert.deepEqual(other.tags, [{ tagType: 'Product Line', tagValue: 'Coffee' }])
    assert.equal(other.description, '')
  })

  it('the channel is set at creation; an update naming another channel (or type) is 709; name and description update', async (t) => {
    const face = await open(t)
    const created = await face.form('/rest/asset/v1/programs.json', { name: 'API Test Program', folder: JSON.stringify({ id: 1040, type: 'Folder' }), description: 'Sample API Program', type: 'Default', channel: 'Tradeshow', costs: JSON.stringify([{ startDate: '2015-01-01', cost: 2000 }]) })
    assert.equal(created.success, true, JSON.stringify(created))
    const p = created.result[0]
    assert.deepEqual([p.name, p.type, p.channel, p.description, p.folder.folderName], ['API Test Program', 'Default', 'Tradeshow', 'Sample API Program', 'Webinars'])
    assert.deepEqual(p.costs, [{ startDate: '2015-01-01', cost: 2000 }])
    assert.equal(p.tags, null)
    assert.match(p.createdAt, STAMP)
    assert.equal(face.sim.store.program(p.id)?.name, 'API Test Program')

    const before = structuredClone(face.sim.store.program(p.id))
    for (const form of [{ channel: 'Webinar' }, { type: 'Event' }] as Array<Record<string, string>>) {
      const r = await face.send('POST', `/rest/asset/v1/program/${p.id}.json`, { body: new URLSearchParams(form).toString(), type: FORM, conform: false })
      assert.equal(r.body.success, false)
      assert.equal(r.body.errors[0].code, '709', JSON.stringify(r.body))
    }
    const asTag = await face.form(`/rest/asset/v1/program/${p.id}.json`, { tags: JSON.stringify([{ tagType: 'Channel', tagValue: 'Webinar' }]) })
    assert.equal(asTag.errors[0].code, '709')
    assert.deepEqual(face.sim.store.program(p.id), before, 'nothing changed')

    const renamed = await face.form(`/rest/asset/v1/program/${p.id}.json`, { name: 'Renamed', description: 'Updated' })
    assert.deepEqual([renamed.result[0].name, renamed.result[0].description, renamed.result[0].channel], ['Renamed', 'Updated', 'Tradeshow'])

    const noChannel = await face.send('POST', '/rest/asset/v1/programs.json', { body: new URLSearchParams({ name: 'X', folder: '{"id":1040,"type":"Folder"}', type: 'Default' }).toString(), type: FORM, conform: false })
    assert.deepEqual(noChannel.body.errors, [{ code: '701', message: 'channel cannot be blank' }])
    const badFolder = await face.form('/rest/asset/v1/programs.json', { name: 'Y', folder: '{"id":9,"type":"Folder"}', type: 'Default', channel: 'Tradeshow' })
    assert.equal(badFolder.errors[0].code, '710')
  })

  it('costs are appended; costsDestructiveUpdate replaces them, and with no costs clears them', async (t) => {
    const face = await open(t)
    const url = '/rest/asset/v1/program/1970.json'
    const appended = await face.form(url, { costs: JSON.stringify([{ startDate: '2016-01-01', cost: 200, note: 'Google Adwords' }]) })
    assert.deepEqual(appended.result[0].costs.map((c: Json) => c.cost), [1200, 1500, 200])
    const replaced = await face.form(url, { costsDestructiveUpdate: 'true', costs: JSON.stringify([{ startDate: '2016-02-01', cost: 300 }]) })
    assert.deepEqual(replaced.result[0].costs, [{ startDate: '2016-02-01', cost: 300 }])
    assert.deepEqual(face.sim.store.program(1970)?.costs.map((c) => c.amount), ['300'])
    const cleared = await face.form(url, { costsDestructiveUpdate: 'true' })
    assert.equal(cleared.result[0].costs, null)
    assert.deepEqual(face.sim.store.program(1970)?.costs, [])
  })

  it('Get Program by Name (includeTags, includeCosts) and Get Programs by Tag (maxReturn, offset)', async (t) => {
    const face = await open(t)
    const plain = await face.get('/rest/asset/v1/program/byName.json', { name: 'Coffee Promotion' })
    assert.deepEqual(plain.result.map((p: Json) => p.id), [1002])
    assert.ok(!('tags' in plain.result[0]) && !('costs' in plain.result[0]))
    const full = await face.get('/rest/asset/v1/program/byName.json', { name: 'Summer Webinar Series', includeTags: 'true', includeCosts: 'true' })
    assert.equal(full.result[0].costs.length, 2)
    assert.equal(full.result[0].tags, null)
    const none = await face.get('/rest/asset/v1/program/byName.json', { name: 'No such program' })
    assert.deepEqual([none.success, none.result, none.warnings], [true, undefined, ['No assets found for the given search criteria.']])

    const content = await face.get('/rest/asset/v1/program/byTag.json', { tagType: 'Channel', tagValue: 'Content' })
    assert.deepEqual(content.result.map((p: Json) => p.id), [1001, 1002])
    const second = await face.get('/rest/asset/v1/program/byTag.json', { tagType: 'Channel', tagValue: 'Content', maxReturn: '1', offset: '1' })
    assert.deepEqual(second.result.map((p: Json) => p.id), [1002])
    const coffee = await face.get('/rest/asset/v1/program/byTag.json', { tagType: 'Product Line', tagValue: 'Coffee' })
    assert.deepEqual(coffee.result[0].tags, [{ tagType: 'Product Line', tagValue: 'Coffee' }])
    // The docs' byTag answer has tags and no costs.
    const webinar = await face.get('/rest/asset/v1/program/byTag.json', { tagType: 'Channel', tagValue: 'Webinar' })
    assert.deepEqual(webinar.result.map((p: Json) => [p.id, 'costs' in p]), [[1970, false]])
    const blank = await face.get('/rest/asset/v1/program/byTag.json', { tagType: 'Channel' })
    assert.deepEqual(blank.errors, [{ code: '701', message: 'tagValue cannot be blank' }])
  })

  it('Get Programs (browse): maxReturn (default 20, at most 200) and offset, no tags and no costs', async (t) => {
    const face = await open(t)
    const all = await face.get('/rest/asset/v1/programs.json', {})
    assert.deepEqual(all.result.map((p: Json) => p.id), [1001, 1002, 1970])
    assert.ok(all.result.every((p: Json) => !('tags' in p) && !('costs' in p)))
    assert.deepEqual(all.result[2].channel, 'Webinar')
    const page = await face.get('/rest/asset/v1/programs.json', { maxReturn: '1', offset: '1' })
    assert.deepEqual(page.result.map((p: Json) => p.id), [1002])
    const past = await face.get('/rest/asset/v1/programs.json', { offset: '3' })
    assert.deepEqual([past.success, past.result, past.warnings], [true, undefined, ['No assets found for the given search criteria.']])
    const tooMany = await face.get('/rest/asset/v1/programs.json', { maxReturn: '201' })
    assert.deepEqual(tooMany.errors, [{ code: '1003', message: 'Invalid maxReturn \'201\': expected 1 to 200' }])
  })
})

describe('REST face: knobs and a CRM-synced instance', () => {
  it('response-level errors 500, 502, 614, 713: success false, the code in errors[], nothing applied', async (t) => {
    const face = await open(t)
    for (const [code, message] of [[500, 'Internal Server error'], [502, 'Bad Gateway'], [614, 'Invalid Subscription'], [713, 'Transient Error']] as const) {
      face.sim.knobs.enqueue({ fault: code })
      const res = await face.post(OPPS, { input: [{ externalOpportunityId: `knob-${code}`, name: 'K' }] })
      assert.deepEqual([res.success, res.errors], [false, [{ code: String(code), message }]])
      assert.equal(res.result, undefined)
      assert.equal(storedKeys(face.sim, `knob-${code}`), 0)
      assert.equal(face.sim.ledger.at(-1)?.applied, false)
    }
  })

  it('record reasons 1013, 1017, 1018 for the knob\'s failObjects, on sync and delete; the others are applied', async (t) => {
    const face = await open(t)
    for (const reason of [1013, 1017, 1018]) {
      face.sim.knobs.enqueue({ failObjects: [1], failReason: reason })
      const res = await face.post(OPPS, { input: [{ externalOpportunityId: `r${reason}-a`, name: 'A' }, { externalOpportunityId: `r${reason}-b`, name: 'B' }] })
      assert.deepEqual(statusesOf(res), ['created', 'skipped'])
      assert.deepEqual(reasonsOf(res), [undefined, String(reason)])
      assert.equal(storedKeys(face.sim, `r${reason}-b`), 0)
    }
    face.sim.knobs.enqueue({ failObjects: [0], failReason: 1013 })
    const del = await face.post('/rest/v1/opportunities/delete.json', { input: [{ externalOpportunityId: 'r1013-a' }, { externalOpportunityId: 'r1017-a' }] })
    assert.deepEqual(statusesOf(del), ['skipped', 'deleted'])
    assert.deepEqual(del.result[0].reasons, [{ code: '1013', message: 'Object not found' }])
    assert.equal(storedKeys(face.sim, 'r1013-a'), 1)
  })

  it('CRM sync on: opportunities are read-only (1018 per record), the role API answers 1018; off again, both work', async (t) => {
    const face = await open(t, { restCrmSync: true })
    const write = await face.post(OPPS, { input: [{ externalOpportunityId: 'crm-1', name: 'CRM' }] })
    assert.deepEqual(write.result, [{ seq: 0, status: 'skipped', reasons: [{ code: '1018', message: 'CRM Enabled' }] }])
    const del = await face.post('/rest/v1/opportunities/delete.json', { input: [{ externalOpportunityId: 'Opportunity_1' }] })
    assert.deepEqual(reasonsOf(del), ['1018'])
    assert.ok(face.sim.store.opportunities.has(4))
    assert.equal((await face.get(OPPS, { filterType: 'externalOpportunityId', filterValues: 'Opportunity_1' })).result.length, 1, 'reads still work')
    for (const res of [
      await face.get(ROLES, { filterType: 'leadId', filterValues: '19' }),
      await face.get('/rest/v1/opportunities/roles/describe.json'),
      await face.post(ROLES, { input: [{ externalOpportunityId: 'Opportunity_1', leadId: 6, role: 'x' }] })
    ]) assert.deepEqual([res.success, res.errors], [false, [{ code: '1018', message: 'CRM Enabled' }]])

    face.sim.rest.setCrmSync(false)
    assert.deepEqual(statusesOf(await face.post(OPPS, { input: [{ externalOpportunityId: 'crm-1', name: 'CRM' }] })), ['created'])
    assert.equal((await face.get(ROLES, { filterType: 'leadId', filterValues: '19' })).success, true)
  })
})
