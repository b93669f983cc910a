import { describe, it, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, type TestGateway } from '../helpers/gateway.js'
import { DEMO_REST_CLIENT_ID, DEMO_REST_CLIENT_SECRET, fromGuid, toGuid } from '../../simulator/index.js'

// MARKETO_BACKEND=rest against the simulator's REST face (every REST request it receives is also
// checked against the official OpenAPI subset when the gateway closes, see test/helpers).

const opp = (value: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ externalKey: { name: 'opportunityId', value }, name: `Opp ${value}`, ...extra })

function restEntries (gw: TestGateway): NonNullable<TestGateway['sim']['ledger'][number]['rest']>[] {
  return gw.sim.ledger.flatMap((e) => e.rest === undefined ? [] : [e.rest])
}

describe('REST backend: writes against the REST face', () => {
  let gw: TestGateway
  // Many calls in a few seconds: the rolling window (REST default 50 per 20 s) is off on both sides.
  before(async () => { gw = await startGateway({ backend: 'rest', simulator: { limits: { rateLimit: null } }, env: { COALESCE_WINDOW_MS: '0', MARKETO_RATE_LIMIT_WINDOW_MS: '0' } }) })
  after(async () => { await gw.close() })
  beforeEach(() => { gw.sim.knobs.clear() })

  it('creates and updates by external key; results carry marketoGUID, id is null', async () => {
    const first = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('rest-1', { amount: 100, isWon: false, probability: 10 })] } })
    assert.equal(first.status, 200, first.text)
    const r = first.body.results[0]
    assert.equal(r.status, 'created')
    assert.equal(r.id, null)
    assert.deepEqual(r.externalKey, { name: 'opportunityId', value: 'rest-1' })
    const id = fromGuid('opportunity', r.marketoGUID)
    assert.ok(id !== undefined)
    const stored = gw.sim.store.opportunities.get(id)
    assert.equal(stored?.fields.Name, 'Opp rest-1')
    assert.equal(stored?.fields.Amount, '100')
    assert.equal(stored?.fields.IsWon, '0')
    const entry = restEntries(gw).at(-1)
    assert.equal(entry?.path, '/rest/v1/opportunities.json')
    assert.deepEqual(entry?.body, { action: 'createOrUpdate', dedupeBy: 'dedupeFields', input: [{ externalOpportunityId: 'rest-1', name: 'Opp rest-1', amount: 100, probability: 10, isWon: false }] })

    const again = await request(`${gw.url}/opportunities`, { body: { operation: 'update', opportunities: [opp('rest-1', { stage: 'Closed Won' })] } })
    assert.equal(again.status, 200)
    assert.deepEqual(again.body.results, [{ index: 0, id: null, externalKey: { name: 'opportunityId', value: 'rest-1' }, marketoGUID: r.marketoGUID, status: 'updated' }])
    assert.equal(gw.sim.store.opportunities.get(id)?.fields.Stage, 'Closed Won')
    assert.equal(restEntries(gw).at(-1)?.body && (restEntries(gw).at(-1)?.body as { action: string }).action, 'updateOnly')
  })

  it('insert of an existing one and update of a missing one are skipped (1005, 1004)', async () => {
    await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('rest-dup')] } })
    const res = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [opp('rest-dup')] } })
    assert.equal(res.status, 200)
    assert.equal(res.body.results[0].status, 'skipped')
    const missing = await request(`${gw.url}/opportunities`, { body: { operation: 'update', opportunities: [opp('rest-nobody')] } })
    assert.equal(missing.body.results[0].status, 'skipped')
  })

  it('a 1003 record error fails that object only: 207, its reason in error.message', async () => {
    const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('rest-ok-a'), opp('rest-bad', { customFields: { DealScore: 'high' } }), opp('rest-ok-b')] } })
    assert.equal(res.status, 207, res.text)
    assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['created', 'failed', 'created'])
    assert.equal(res.body.results[1].error.code, 'MARKETO_OBJECT_FAILED')
    assert.match(res.body.results[1].error.message, /DealScore.*\(1003\)$/)
    gw.sim.knobs.enqueue({ failObjects: [0] })
    const injected = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('rest-inj')] } })
    assert.equal(injected.status, 207)
    assert.match(injected.body.results[0].error.message, /\(1003\)$/)
  })

  it('a request-level 1003 is UPSTREAM_REJECTED with nothing applied', async () => {
    gw.sim.knobs.enqueue({ fault: 1003 })
    const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('rest-rej')] } })
    assert.equal(res.status, 502)
    assert.equal(res.body.code, 'UPSTREAM_REJECTED')
    assert.equal(res.body.upstreamCode, 1003)
    assert.equal(res.body.results[0].status, 'not_applied')
  })

  it('roles: by the opportunity\'s external key and personId, created earlier in the same generic call', async () => {
    const res = await request(`${gw.url}/mobjects/sync`, {
      body: {
        operation: 'UPSERT',
        mObjects: [
          { type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'rest-chain' }, attributes: { Name: 'Chained' } },
          { type: 'OpportunityPersonRole', attributes: { PersonId: 19, Role: 'Buyer', IsPrimary: true }, associations: [{ type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'rest-chain' } }] }
        ]
      }
    })
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['created', 'created'])
    const role = gw.sim.store.roles.get(fromGuid('role', res.body.results[1].marketoGUID) ?? 0)
    assert.equal(role?.opportunityId, fromGuid('opportunity', res.body.results[0].marketoGUID))
    assert.equal(role?.personId, 19)
    assert.equal(role?.fields.IsPrimary, '1')
    const roles = await request(`${gw.url}/opportunities/roles`, { body: { roles: [{ opportunity: { externalKey: { name: 'opportunityId', value: 'rest-chain' } }, personId: 6, role: 'Champion' }] } })
    assert.equal(roles.status, 200, roles.text)
    assert.deepEqual(restEntries(gw).at(-1)?.body, { action: 'createOnly', dedupeBy: 'dedupeFields', input: [{ externalOpportunityId: 'rest-chain', leadId: 6, role: 'Champion' }] })
  })

  it('program costs are appended and tags set through Update Program (form-encoded)', async () => {
    const before = gw.sim.store.programs.get(1970)?.costs.length ?? 0
    const res = await request(`${gw.url}/programs/1970/costs`, { body: { costs: [{ month: '2013-07', amount: 500, note: 'July webinar' }] } })
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.results, [{ index: 0, id: 1970, status: 'updated' }])
    const program = gw.sim.store.programs.get(1970)
    assert.equal(program?.costs.length, before + 1)
    assert.deepEqual(program?.costs.at(-1), { id: program?.costs.at(-1)?.id, month: '2013-07', amount: '500', note: 'July webinar' })
    const entry = restEntries(gw).at(-1)
    assert.equal(entry?.contentType, 'application/x-www-form-urlencoded')
    assert.deepEqual(entry?.body, { costs: [{ startDate: '2013-07-01', cost: 500, note: 'July webinar' }] })

    const tags = await request(`${gw.url}/programs/1001/tags`, { body: { tags: [{ type: 'Region', value: 'EMEA' }] } })
    assert.equal(tags.status, 200)
    assert.ok(gw.sim.store.programs.get(1001)?.tags.some((t) => t.type === 'Region' && t.value === 'EMEA'))
    const bad = await request(`${gw.url}/programs/1001/tags`, { body: { tags: [{ type: 'Region', value: 'Carrier Pigeon' }] } })
    assert.equal(bad.status, 207)
    assert.equal(bad.body.results[0].status, 'failed')
    const missing = await request(`${gw.url}/programs/424242/tags`, { body: { tags: [{ type: 'Region', value: 'EMEA' }] } })
    assert.equal(missing.body.results[0].status, 'skipped')
  })

  it('what only SOAP can honour answers 400 saying so, before any call', async () => {
    const calls = gw.sim.ledger.length
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['POST', '/opportunities', { operation: 'update', opportunities: [{ id: 64, name: 'x' }] }, /integer opportunity ids are SOAP-only/],
      ['PATCH', '/opportunities/64', { stage: 'Negotiation' }, /integer opportunity ids are SOAP-only/],
      ['POST', '/opportunities', { opportunities: [{ externalKey: { name: 'ExternalOpportunityId', value: 'x' }, name: 'x' }] }, /MARKETO_REST_EXTERNAL_KEY_FIELD/],
      ['POST', '/opportunities', { operation: 'insert', opportunities: [{ name: 'no key' }] }, /external key/],
      ['POST', '/programs/1970/costs', { costs: [{ month: '2013-06', amount: 2000, id: 153 }] }, /no cost ids/],
      ['POST', '/programs/1970/costs', { costs: [{ month: '2013-06', amount: 12.5 }] }, /whole numbers/],
      ['POST', '/opportunities/roles', { roles: [{ opportunityId: 64, personId: 19, role: 'Controller' }] }, /SOAP-only/],
      ['POST', '/programs/1001/tags', { tags: [{ type: 'Channel', value: 'Webinar' }] }, /channel only when the program is created/],
      ['POST', '/opportunities', { operation: 'insert', opportunities: [{ externalKey: { name: 'opportunityId', value: 'no-name' }, stage: 'New' }] }, /an insert needs name/]
    ]
    for (const [method, path, body, message] of cases) {
      const res = await request(`${gw.url}${path}`, { method, body })
      assert.equal(res.status, 400, `${method} ${path}: ${res.text}`)
      assert.equal(res.body.code, 'VALIDATION_FAILED')
      assert.match(res.body.detail, message)
      assert.match(res.body.detail, /REST backend/)
    }
    const dry = await request(`${gw.url}/programs/1970/costs?dryRun=true`, { body: { costs: [{ month: '2013-06', amount: 2000, id: 153 }] } })
    assert.equal(dry.status, 400)
    assert.equal(dry.body.errors[0].path, '/costs/0/id')
    assert.equal(gw.sim.ledger.length, calls)
  })

  it('an opportunity written by external key reads back by key and by marketoGUID, typed', async () => {
    const written = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('rest-read', { amount: 1200, probability: 40, closeDate: '2024-05-31', isWon: false, customFields: { ProductLine: 'Tea' } })] } })
    assert.equal(written.status, 200, written.text)
    const guid = written.body.results[0].marketoGUID as string
    const byKey = await request(`${gw.url}/opportunities?externalKey.name=opportunityId&externalKey.value=rest-read`)
    assert.equal(byKey.status, 200, byKey.text)
    assert.equal(byKey.body.items.length, 1)
    const o = byKey.body.items[0]
    assert.equal(o.id, null)
    assert.equal(o.marketoGUID, guid)
    assert.deepEqual(o.externalKey, { name: 'opportunityId', value: 'rest-read' })
    assert.equal(o.name, 'Opp rest-read')
    assert.equal(o.amount, 1200)
    assert.equal(o.probability, 40)
    assert.equal(o.closeDate, '2024-05-31')
    assert.equal(o.isWon, false)
    assert.deepEqual(o.customFields, { ProductLine: 'Tea' })
    assert.match(o.createdAt, /^\d{4}-\d{2}-\d{2}T/)
    assert.equal(byKey.body.nextCursor, null)
    const byGuid = await request(`${gw.url}/opportunities?marketoGUID=${guid}`)
    assert.deepEqual(byGuid.body.items, byKey.body.items)
    const get = restEntries(gw).filter((e) => e.method === 'GET' && e.path === '/rest/v1/opportunities.json').at(-1)
    assert.match(get?.query ?? '', /filterType=marketoGUID/)
    assert.match(decodeURIComponent(get?.query ?? ''), /fields=[^&]*ProductLine/)
  })

  it('lists page through nextPageToken behind the cursor, each object once', async () => {
    // Roles of one person in 130 opportunities span two REST pages of 100.
    const keys = Array.from({ length: 130 }, (_, i) => `rest-page-${i}`)
    const roles = keys.map((value, i) => ({ opportunity: { externalKey: { name: 'opportunityId', value } }, personId: 19, role: `Role ${i}` }))
    const created = await request(`${gw.url}/opportunities`, { body: { opportunities: keys.map((k) => opp(k)) } })
    assert.equal(created.status, 200)
    const res = await request(`${gw.url}/opportunities/roles`, { body: { operation: 'upsert', roles } })
    assert.equal(res.status, 200, res.text.slice(0, 300))
    const seen: string[] = []
    let cursor: string | null = null
    for (let page = 0; page < 10; page++) {
      const q: string = cursor === null ? '' : `&cursor=${cursor}`
      const got = await request(`${gw.url}/opportunities/roles?personId=19&limit=60${q}`)
      assert.equal(got.status, 200, got.text.slice(0, 300))
      seen.push(...got.body.items.filter((r: { opportunity?: { externalKey: { value: string } } }) => r.opportunity?.externalKey.value.startsWith('rest-page-')).map((r: { role: string }) => r.role))
      cursor = got.body.nextCursor
      if (cursor === null) break
    }
    assert.equal(cursor, null)
    assert.deepEqual([...seen].sort(), roles.map((r) => r.role).sort())
    assert.equal(new Set(seen).size, 130)
  })

  it('a program reads back by id with costs, tags and channel', async () => {
    const res = await request(`${gw.url}/programs/1970`)
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.id, 1970)
    assert.ok(res.body.costs.length > 0)
    for (const c of res.body.costs) {
      assert.match(c.month, /^\d{4}-\d{2}$/)
      assert.equal(typeof c.amount, 'number')
      assert.equal(c.id, undefined, 'REST has no cost ids')
    }
    assert.ok(res.body.tags.some((t: { type: string }) => t.type === 'Channel'))
    assert.equal(res.body.channel, res.body.tags.find((t: { type: string }) => t.type === 'Channel').value)
    const missing = await request(`${gw.url}/programs/99999`)
    assert.equal(missing.status, 404)
  })

  it('describe maps REST field names back to the gateway\'s; Program answers 501 without a call', async () => {
    const res = await request(`${gw.url}/mobjects/Opportunity/describe`)
    assert.equal(res.status, 200, res.text)
    const names = res.body.fields.map((f: { name: string }) => f.name)
    for (const n of ['Name', 'Amount', 'Stage', 'opportunityId', 'ProductLine']) assert.ok(names.includes(n), n)
    assert.equal(res.body.fields.find((f: { name: string }) => f.name === 'ProductLine').custom, true)
    assert.equal(res.body.fields.find((f: { name: string }) => f.name === 'Amount').custom, false)
    const calls = gw.sim.ledger.length
    const program = await request(`${gw.url}/mobjects/Program/describe`)
    assert.equal(program.status, 501)
    assert.equal(program.body.code, 'BACKEND_UNSUPPORTED')
    assert.equal(gw.sim.ledger.length, calls)
  })

  it('deletes by marketoGUID and by external key; a missing one is unchanged; roles go with their opportunity', async () => {
    const w = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('rest-del-1'), opp('rest-del-2')] } })
    const guid = w.body.results[0].marketoGUID as string
    const role = await request(`${gw.url}/opportunities/roles`, { body: { roles: [{ opportunity: { externalKey: { name: 'opportunityId', value: 'rest-del-2' } }, personId: 19, role: 'Doomed' }] } })
    assert.equal(role.status, 200, role.text)
    const res = await request(`${gw.url}/mobjects/delete`, {
      body: { objects: [{ type: 'Opportunity', marketoGUID: guid }, { type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'rest-del-2' } }, { type: 'Opportunity', marketoGUID: toGuid('opportunity', 987654) }, { type: 'OpportunityPersonRole', marketoGUID: role.body.results[0].marketoGUID }] }
    })
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['deleted', 'deleted', 'unchanged', 'unchanged'])
    assert.equal(res.body.results[0].marketoGUID, guid)
    const deletes = restEntries(gw).filter((e) => e.path.endsWith('/delete.json'))
    assert.deepEqual(deletes.slice(-3).map((e) => e.path), ['/rest/v1/opportunities/delete.json', '/rest/v1/opportunities/delete.json', '/rest/v1/opportunities/roles/delete.json'])
    const after = await request(`${gw.url}/opportunities?externalKey.name=opportunityId&externalKey.value=rest-del-2`)
    assert.deepEqual(after.body.items, [])
  })

  it('reads and deletes REST cannot express answer 400 saying so, without calling Marketo', async () => {
    const calls = gw.sim.ledger.length
    for (const [method, path, body] of [
      ['GET', '/opportunities/64'], ['GET', '/opportunities/roles/10'], ['DELETE', '/opportunities/7'],
      ['GET', '/opportunities?stage=Negotiation'], ['GET', '/opportunities/roles?opportunityId=4'], ['GET', '/programs?tagType=Channel'], ['GET', '/programs?name=x&workspaceId=1'],
      ['GET', '/opportunities?externalKey.name=opportunityId&externalKey.value=a%2Cb'],
      ['POST', '/mobjects/delete', { objects: [{ type: 'Opportunity', id: 4 }] }]
    ] as Array<[string, string, unknown?]>) {
      const res = await request(`${gw.url}${path}`, { method, body })
      assert.equal(res.status, 400, `${method} ${path}: ${res.text}`)
      assert.equal(res.body.code, 'VALIDATION_FAILED')
      assert.match(res.body.detail, /REST backend/)
    }
    // Only describe calls (cached after the first) may have been made.
    assert.ok(gw.sim.ledger.slice(calls).every((e) => e.operation === 'describeMObject'))
    assert.equal(gw.app.marketo.breaker.state, 'closed')
  })

  it('an update by marketoGUID alone; a marketoGUID with insert answers 400', async () => {
    const w = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('rest-guid-upd')] } })
    const guid = w.body.results[0].marketoGUID as string
    const upd = await request(`${gw.url}/opportunities`, { body: { operation: 'update', opportunities: [{ marketoGUID: guid, stage: 'Won' }] } })
    assert.equal(upd.status, 200, upd.text)
    assert.deepEqual(upd.body.results, [{ index: 0, id: null, marketoGUID: guid, status: 'updated' }])
    assert.equal(gw.sim.store.opportunities.get(fromGuid('opportunity', guid) ?? 0)?.fields.Stage, 'Won')
    const ins = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ marketoGUID: guid, stage: 'Won' }] } })
    assert.equal(ins.status, 400)
    assert.match(ins.body.detail, /marketoGUID/)
  })

  it('a dry run shows the REST calls, without a token', async () => {
    const res = await request(`${gw.url}/opportunities?dryRun=true`, { body: { opportunities: [opp('rest-dry')] } })
    assert.equal(res.status, 200)
    assert.match(res.body.calls[0].envelope, /^POST \/rest\/v1\/opportunities\.json\nContent-Type: application\/json\n\n\{"action":"createOrUpdate"/)
    assert.doesNotMatch(res.body.calls[0].envelope, /Bearer|access_token/)
  })

  it('/readyz and /metrics name the backend', async () => {
    const ready = await request(`${gw.url}/readyz`)
    assert.equal(ready.body.backend, 'rest')
    const metrics = await request(`${gw.url}/metrics`)
    assert.match(metrics.text, /gateway_marketo_backend\{backend="rest"\} 1/)
  })

  it('the token is sent only in the Authorization header', () => {
    const entries = restEntries(gw)
    assert.ok(entries.length > 5)
    for (const e of entries) {
      assert.equal(e.tokenIn, 'header')
      assert.doesNotMatch(e.query, /access_token/)
    }
  })
})

describe('marketoGUID on the SOAP backend', () => {
  it('answers 400 in writes, list filters and deletes, before any call', async () => {
    const gw = await startGateway({ backend: 'soap' })
    try {
      const guid = toGuid('opportunity', 64)
      const calls = gw.sim.ledger.length
      for (const [path, body] of [
        ['/opportunities', { operation: 'update', opportunities: [{ marketoGUID: guid, stage: 'Won' }] }],
        [`/opportunities?marketoGUID=${guid}`],
        ['/mobjects/delete', { objects: [{ type: 'Opportunity', marketoGUID: guid }] }]
      ] as Array<[string, unknown?]>) {
        const res = await request(`${gw.url}${path}`, { body })
        assert.equal(res.status, 400, `${path}: ${res.text}`)
        assert.match(JSON.stringify(res.body), /marketoGUID|SOAP backend/)
      }
      assert.ok(gw.sim.ledger.slice(calls).every((e) => e.operation === 'describeMObject'))
    } finally {
      await gw.close()
    }
  })
})

describe('REST backend: tokens', () => {
  it('one token for concurrent first calls; expiry mid-flight (602) refreshes once and resends', async () => {
    const gw = await startGateway({ backend: 'rest', env: { COALESCE_WINDOW_MS: '0' } })
    try {
      const first = await Promise.all(Array.from({ length: 5 }, (_, i) => request(`${gw.url}/opportunities`, { body: { opportunities: [opp(`tok-${i}`)] } })))
      assert.deepEqual(first.map((r) => r.status), [200, 200, 200, 200, 200])
      assert.equal(gw.sim.rest.tokensIssued, 1)

      gw.sim.rest.expireTokens()
      const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('tok-after')] } })
      assert.equal(res.status, 200, res.text)
      assert.equal(res.body.results[0].status, 'created')
      assert.equal(gw.sim.rest.tokensIssued, 2)
      const last = gw.sim.ledger.slice(-2)
      assert.equal(last[0].rest?.errorCode, '602')
      assert.equal(last[0].applied, false)
      assert.equal(last[1].applied, true)
      assert.equal([...gw.sim.store.opportunities.values()].filter((o) => o.fields.opportunityId === 'tok-after').length, 1)
    } finally {
      await gw.close()
    }
  })

  it('a token about to expire is refreshed before use', async () => {
    const gw = await startGateway({ backend: 'rest', simulator: { restTokenTtlMs: 1_000 } })
    try {
      await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('ttl-1')] } })
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('ttl-2')] } })
      assert.equal(res.status, 200)
      assert.equal(gw.sim.rest.tokensIssued, 2)
      assert.ok(!gw.sim.ledger.some((e) => e.rest?.errorCode === '602'), 'no call was sent with an expired token')
    } finally {
      await gw.close()
    }
  })

  it('bad client credentials answer 502 UPSTREAM_AUTH, nothing applied', async () => {
    const gw = await startGateway({ backend: 'rest', env: { MARKETO_CLIENT_SECRET: 'wrong-secret-value' } })
    try {
      const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('cred')] } })
      assert.equal(res.status, 502)
      assert.equal(res.body.code, 'UPSTREAM_AUTH')
      assert.equal(res.body.results[0].status, 'not_applied')
    } finally {
      await gw.close()
    }
  })
})

describe('REST backend: throttling', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ backend: 'rest', simulator: { limits: { rateLimit: null } }, env: { COALESCE_WINDOW_MS: '0', MARKETO_MAX_ATTEMPTS: '2', MARKETO_RATE_LIMIT_WINDOW_MS: '0' } }) })
  after(async () => { await gw.close() })
  beforeEach(() => { gw.sim.knobs.clear() })

  for (const [code, status, problem] of [[606, 429, 'UPSTREAM_RATE_LIMITED'], [615, 503, 'UPSTREAM_CONCURRENCY_LIMITED']] as const) {
    it(`${code} is retried, and answers ${status} ${problem} when it persists`, async () => {
      gw.sim.knobs.enqueue({ fault: code })
      const ok = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp(`thr-${code}`)] } })
      assert.equal(ok.status, 200, ok.text)
      assert.equal(ok.body.results[0].status, 'created')

      gw.sim.knobs.enqueue({ fault: code })
      gw.sim.knobs.enqueue({ fault: code })
      const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp(`thr-${code}-b`)] } })
      assert.equal(res.status, status, res.text)
      assert.equal(res.body.code, problem)
      assert.equal(res.body.upstreamCode, code)
      assert.ok(Number(res.headers.get('retry-after')) >= 1)
      assert.equal(res.body.results[0].status, 'not_applied')
    })
  }

  it('the REST face enforces 10 concurrent calls with 615, which the gateway maps the same way', async () => {
    gw.sim.setLimits({ maxConcurrent: 0 })
    try {
      const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('thr-conc')] } })
      assert.equal(res.status, 503)
      assert.equal(res.body.upstreamCode, 615)
    } finally {
      gw.sim.setLimits(undefined)
    }
  })

  it('607 answers 429 UPSTREAM_QUOTA_EXCEEDED and later calls fail fast', async () => {
    gw.sim.knobs.enqueue({ fault: 607 })
    const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('quota')] } })
    assert.equal(res.status, 429)
    assert.equal(res.body.code, 'UPSTREAM_QUOTA_EXCEEDED')
    const calls = gw.sim.ledger.length
    const next = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('quota-2')] } })
    assert.equal(next.status, 429)
    assert.equal(gw.sim.ledger.length, calls)
  })
})

describe('one Marketo, two faces', () => {
  it('what one face writes the other reads', async () => {
    const rest = await startGateway({ backend: 'rest' })
    try {
      const written = await request(`${rest.url}/opportunities`, { body: { opportunities: [opp('both-faces', { stage: 'Qualification' })] } })
      const guid = written.body.results[0].marketoGUID as string
      // The SOAP face, through a SOAP gateway on the same simulator.
      const { buildApp } = await import('../../src/app.js')
      const { loadConfig } = await import('../../src/config.js')
      const { DEMO_USER_ID, DEMO_ENCRYPTION_KEY } = await import('../../simulator/index.js')
      const soap = await buildApp(loadConfig({ PORT: '0', LOG_LEVEL: 'silent', MARKETO_SOAP_ENDPOINT: rest.sim.endpoint, MARKETO_USER_ID: DEMO_USER_ID, MARKETO_ENCRYPTION_KEY: DEMO_ENCRYPTION_KEY, AUTH_DISABLED: 'i-understand-the-risk' }))
      try {
        const read = await soap.inject({ url: '/opportunities?externalKey.name=opportunityId&externalKey.value=both-faces' })
        const items = read.json().items as Array<{ id: number, stage: string }>
        assert.equal(items.length, 1, read.body)
        assert.equal(toGuid('opportunity', items[0].id), guid)
        assert.equal(items[0].stage, 'Qualification')
        const soapWrite = await soap.inject({ method: 'POST', url: '/opportunities', payload: { opportunities: [{ externalKey: { name: 'opportunityId', value: 'from-soap' }, name: 'From SOAP' }] } })
        const soapId = soapWrite.json().results[0].id as number
        // The REST face, directly.
        const tokenRes = await fetch(`${rest.sim.restEndpoint}/identity/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_id: DEMO_REST_CLIENT_ID, client_secret: DEMO_REST_CLIENT_SECRET }) })
        const { access_token: token } = await tokenRes.json() as { access_token: string }
        const got = await fetch(`${rest.sim.restEndpoint}/rest/v1/opportunities.json?filterType=externalOpportunityId&filterValues=from-soap`, { headers: { authorization: `Bearer ${token}` } })
        const body = await got.json() as { success: boolean, result: Array<{ marketoGUID: string, name: string }> }
        assert.equal(body.success, true)
        assert.equal(body.result[0].marketoGUID, toGuid('opportunity', soapId))
        assert.equal(body.result[0].name, 'From SOAP')
      } finally {
        await soap.close()
      }
    } finally {
      await rest.close()
    }
  })

  it('the REST face answers 413 over 1 MB and 601 to a token outside the Authorization header', async () => {
    const gw = await startGateway({ backend: 'rest' })
    try {
      const base = gw.sim.restEndpoint
      const big = await fetch(`${base}/rest/v1/opportunities.json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ input: [{ name: 'x'.repeat(1_100_000) }] }) })
      assert.equal(big.status, 413)
      await big.arrayBuffer()
      const noToken = await (await fetch(`${base}/rest/v1/opportunities.json?access_token=abc`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"input":[]}' })).json() as { errors: Array<{ code: string }> }
      assert.equal(noToken.errors[0].code, '601')
    } finally {
      gw.sim.ledger.length = 0
      await gw.close()
    }
  })
})
