import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { loadConfig } from '../../src/config.js'
import { hashKey, request, startGateway, syncCalls, TEST_API_KEY, TEST_API_KEYS, type TestGateway } from '../helpers/gateway.js'
import { postNdjson, streamResults, waitForJob } from './helpers.js'

// The simulator with Marketo's real limits (100 calls a window, 10 at once), the window shortened
// to 2 s, and the gateway configured with the same window.
const LIMITS = { rateLimit: { calls: 100, windowMs: 2_000 }, maxConcurrent: 10 }
const ENV = {
  MARKETO_RATE_LIMIT_CALLS: '100',
  MARKETO_RATE_LIMIT_WINDOW_MS: '2000',
  API_KEYS: `test:${hashKey(TEST_API_KEY)},bob:${hashKey(TEST_API_KEYS.bob)}`
}

const opportunity = (prefix: string, i: number) => ({ externalKey: { name: 'opportunityId', value: `${prefix}-${i}` }, name: `${prefix} ${i}`, amount: i })

describe('bulk jobs (real redis-server, simulator with limits)', () => {
  let redis: TestRedis
  let gw: TestGateway
  let client: Redis

  before(async () => {
    redis = await startRedis()
    client = new Redis(redis.url)
    gw = await startGateway({ env: { ...ENV, REDIS_URL: redis.url }, simulator: { limits: LIMITS } })
  })
  after(async () => {
    await gw?.close()
    client?.disconnect()
    await redis?.stop()
  })

  it('J1: a 20,000-object NDJSON job completes; every status matches the simulator store, nothing created twice, results stream in input order', async () => {
    const n = 20_000
    const lines = Array.from({ length: n }, (_, i) => opportunity('J1', i))
    const res = await postNdjson(gw.url, lines, 'kind=opportunities&operation=upsert')
    assert.equal(res.status, 202, res.text)
    const id = res.body.id
    assert.equal(res.headers.get('location'), `/jobs/${id}`)
    assert.equal(res.body.total, n)
    assert.ok(res.body.state === 'queued' || res.body.state === 'running')
    assert.ok(res.body.eta !== null && res.body.eta.seconds > 0, JSON.stringify(res.body.eta))

    const job = await waitForJob(gw.url, id)
    assert.equal(job.state, 'completed', JSON.stringify(job))
    assert.deepEqual(job.counts, { created: n, updated: 0, unchanged: 0, skipped: 0, failed: 0, deleted: 0, unknown: 0, notApplied: 0, pending: 0 })
    assert.equal(job.progress, 1)
    assert.equal(job.calls, n / 100)

    const results = await streamResults(gw.url, id)
    assert.equal(results.length, n)
    const byKey = new Map<string, number[]>()
    for (const o of gw.sim.store.opportunities.values()) {
      const key = o.fields.opportunityId
      if (typeof key === 'string' && key.startsWith('J1-')) byKey.set(key, [...(byKey.get(key) ?? []), o.id])
    }
    assert.equal(byKey.size, n)
    results.forEach((r, i) => {
      assert.equal(r.index, i)
      assert.equal(r.externalKey.value, `J1-${i}`)
      assert.equal(r.status, 'created')
      assert.deepEqual(byKey.get(`J1-${i}`), [r.id], `J1-${i} created once, with the id reported`)
    })
    // The ledger saw every object exactly once, and Marketo's limits were never hit.
    const sent = gw.sim.ledger.flatMap((e) => e.objects ?? []).filter((o) => o.externalKey?.value.startsWith('J1-') === true)
    assert.equal(sent.length, n)
    assert.deepEqual(gw.sim.stats.faultsByCode, {})
  })

  it('chunks that depend on each other go in input order: roles after the opportunities they name', async () => {
    const opportunities = Array.from({ length: 100 }, (_, i) => ({ type: 'Opportunity', externalKey: { name: 'opportunityId', value: `SEQ-${i}` }, attributes: { Name: `SEQ ${i}` } }))
    const roles = Array.from({ length: 100 }, (_, i) => ({ type: 'OpportunityPersonRole', attributes: { PersonId: 19, Role: `R${i}` }, associations: [{ type: 'Opportunity', externalKey: { name: 'opportunityId', value: `SEQ-${i}` } }] }))
    // Every call takes 300 ms: a chunk sent only after the one before it was answered arrives at least that much later.
    gw.sim.knobs.setDefault({ latencyMs: 300 })
    const res = await postNdjson(gw.url, [...opportunities, ...roles], 'kind=mobjects&operation=insert')
    assert.equal(res.status, 202, res.text)
    const job = await waitForJob(gw.url, res.body.id).finally(() => gw.sim.knobs.setDefault(undefined))
    assert.equal(job.state, 'completed')
    assert.equal(job.counts.created, 200, JSON.stringify(job.counts))
    const results = await streamResults(gw.url, res.body.id)
    assert.deepEqual(results.map((r) => r.status), results.map(() => 'created'))
    const calls = gw.sim.ledger.filter((e) => e.objects?.some((o) => o.externalKey?.value.startsWith('SEQ-') === true || o.associations?.some((a) => a.externalKey?.value.startsWith('SEQ-') === true)))
    assert.deepEqual(calls.map((e) => e.objects?.[0].type), ['Opportunity', 'OpportunityPersonRole'])
    assert.ok(Date.parse(calls[1].receivedAt) - Date.parse(calls[0].receivedAt) >= 300, 'the roles were sent after the opportunities were answered')
    // Finished: every key of the job expires after JOB_RETENTION_MS (7 days by default).
    for (const suffix of ['', ':objects', ':results', ':chunks']) {
      const ttl = await client.pttl(`gwjobs:job:${res.body.id as string}${suffix}`)
      assert.ok(ttl > 0 && ttl <= 7 * 86_400_000, `${suffix}: ${ttl}`)
    }
  })

  it('J3: one invalid line answers 400 naming the line; nothing is queued or sent', async () => {
    const before = gw.sim.ledger.length
    const keysBefore = await client.keys('gwjobs:job:*')
    const lines: Array<string | object> = Array.from({ length: 250 }, (_, i) => opportunity('J3', i))
    lines[136] = { ...opportunity('J3', 136), amount: '1e3' }
    const res = await postNdjson(gw.url, lines, 'kind=opportunities&operation=upsert')
    assert.equal(res.status, 400, res.text)
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    assert.equal(res.body.code, 'VALIDATION_FAILED')
    assert.match(res.body.detail, /^line 137: \/amount /)
    assert.deepEqual(res.body.errors, [{ path: 'line 137: /amount', message: 'must be number' }])

    const broken = await postNdjson(gw.url, [opportunity('J3', 0), '{"name": "x",', opportunity('J3', 2)], 'kind=opportunities')
    assert.equal(broken.status, 400, broken.text)
    assert.match(broken.body.detail, /^line 2: /)

    const hostile = await postNdjson(gw.url, [opportunity('J3', 0), '{"name": "x", "__proto__": {"polluted": 1}}'], 'kind=opportunities')
    assert.equal(hostile.status, 400, hostile.text)
    assert.match(hostile.body.detail, /^line 2: /)

    assert.equal(gw.sim.ledger.length, before, 'nothing sent')
    assert.deepEqual(await client.keys('gwjobs:job:*'), keysBefore, 'nothing stored')
  })

  it('JSON bodies: same schemas, errors named by index; results paged by cursor', async () => {
    const bad = await request(`${gw.url}/jobs`, { body: { kind: 'roles', objects: [{ opportunityId: 64, personId: 19 }, { opportunityId: 64 }] } })
    assert.equal(bad.status, 400, bad.text)
    assert.match(bad.body.detail, /^\/objects\/1/)

    const objects = Array.from({ length: 250 }, (_, i) => opportunity('PAGE', i))
    const res = await request(`${gw.url}/jobs`, { body: { kind: 'opportunities', operation: 'insert', objects } })
    assert.equal(res.status, 202, res.text)
    await waitForJob(gw.url, res.body.id)
    const seen: any[] = []
    let cursor: string | null = '0'
    for (let page = 0; page < 10 && cursor !== null; page++) {
      const r = await request(`${gw.url}/jobs/${res.body.id}/results?cursor=${cursor}&limit=100`)
      assert.equal(r.status, 200, r.text)
      seen.push(...r.body.results)
      cursor = r.body.nextCursor
    }
    assert.equal(cursor, null)
    assert.deepEqual(seen.map((r) => r.index), objects.map((_, i) => i))
    assert.ok(seen.every((r, i) => r.status === 'created' && r.externalKey.value === `PAGE-${i}`))
  })

  it('J4: another API key gets 404 for the job, its results and its cancel', async () => {
    const res = await postNdjson(gw.url, [opportunity('J4', 0)], 'kind=opportunities')
    assert.equal(res.status, 202)
    for (const [method, path] of [['GET', ''], ['GET', '/results'], ['DELETE', '']]) {
      const r = await request(`${gw.url}/jobs/${res.body.id}${path}`, { method, auth: TEST_API_KEYS.bob })
      assert.equal(r.status, 404, `${method} ${path}`)
      assert.equal(r.body.code, 'NOT_FOUND')
    }
    await waitForJob(gw.url, res.body.id)
  })

  it('Idempotency-Key: the same upload answers the same job; another body with the key 422', async () => {
    const lines = Array.from({ length: 150 }, (_, i) => opportunity('IDEM', i))
    const headers = { 'idempotency-key': 'job-key-0001-abcdef' }
    const first = await postNdjson(gw.url, lines, 'kind=opportunities', { headers })
    assert.equal(first.status, 202, first.text)
    const second = await postNdjson(gw.url, lines, 'kind=opportunities', { headers })
    assert.equal(second.status, 202, second.text)
    assert.equal(second.body.id, first.body.id)
    assert.equal(second.headers.get('idempotent-replayed'), 'true')
    const other = await postNdjson(gw.url, lines.slice(1), 'kind=opportunities', { headers })
    assert.equal(other.status, 422, other.text)
    const job = await waitForJob(gw.url, first.body.id)
    assert.equal(job.counts.created, 150)
    assert.equal(gw.sim.ledger.flatMap((e) => e.objects ?? []).filter((o) => o.externalKey?.value.startsWith('IDEM-') === true).length, 150, 'sent once')
  })

  it('J5: a cancelled job stops sending within the chunks in flight; the rest is not_applied', async () => {
    // Slow calls, so the job is still running when it is cancelled.
    gw.sim.knobs.setDefault({ latencyMs: 100 })
    try {
      const n = 5_000
      const res = await postNdjson(gw.url, Array.from({ length: n }, (_, i) => opportunity('J5', i)), 'kind=opportunities')
      assert.equal(res.status, 202, res.text)
      const id = res.body.id
      await waitForJob(gw.url, id, (j) => j.processed > 0)
      const callsAtCancel = syncCalls(gw.sim)
      const del = await request(`${gw.url}/jobs/${id}`, { method: 'DELETE' })
      assert.equal(del.status, 202, del.text)
      assert.equal(del.body.state, 'cancelled')
      const job = await waitForJob(gw.url, id)
      assert.equal(job.state, 'cancelled')
      // At most one chunk per worker slot (JOB_BUDGET_SHARE 0.5 of 10) was already on its way.
      assert.ok(syncCalls(gw.sim) - callsAtCancel <= 5, `${syncCalls(gw.sim) - callsAtCancel} calls after the cancel`)
      assert.ok(job.processed < n)
      assert.equal(job.counts.notApplied, n - job.processed)
      const results = await streamResults(gw.url, id)
      assert.equal(results.length, n)
      assert.deepEqual(results.map((r) => r.index), results.map((_, i) => i))
      const sentKeys = new Set(gw.sim.ledger.flatMap((e) => e.objects ?? []).map((o) => o.externalKey?.value))
      for (const r of results) {
        if (r.status === 'not_applied') {
          assert.equal(r.error.code, 'JOB_CANCELLED')
          assert.ok(!sentKeys.has(r.externalKey.value), `${r.externalKey.value} was not sent`)
        } else {
          assert.equal(r.status, 'created')
        }
      }
      const again = await request(`${gw.url}/jobs/${id}`, { method: 'DELETE' })
      assert.equal(again.status, 409)
      assert.equal(again.body.code, 'JOB_FINISHED')
    } finally {
      gw.sim.knobs.setDefault(undefined)
    }
  })

  it('exposes the job metrics', async () => {
    const res = await fetch(`${gw.url}/metrics`)
    const text = await res.text()
    for (const name of ['gateway_jobs{state="completed"}', 'gateway_job_objects_total{status="created"}', 'gateway_job_queue_depth{state="waiting"}', 'gateway_job_budget_share', 'gateway_job_budget_used_ratio', 'gateway_job_marketo_calls_total']) {
      assert.ok(text.includes(name), name)
    }
  })

  it('mounts bull-board at /admin/queues behind the API keys', async () => {
    const open = await fetch(`${gw.url}/admin/queues`)
    assert.equal(open.status, 401)
    const authed = await fetch(`${gw.url}/admin/queues`, { headers: { authorization: `Bearer ${TEST_API_KEY}` } })
    assert.equal(authed.status, 200)
    assert.match(await authed.text(), /<html/i)
  })
})

describe('bulk jobs configuration', () => {
  it('refuses JOB_LOCK_MS at or below MARKETO_CALL_TIMEOUT_MS (a dead replica\'s call could still be running)', () => {
    assert.throws(() => loadConfig({ JOB_LOCK_MS: '10000', MARKETO_CALL_TIMEOUT_MS: '10000' }), /JOB_LOCK_MS \(10000\) must be above MARKETO_CALL_TIMEOUT_MS/)
    assert.equal(loadConfig({ JOB_LOCK_MS: '10001', MARKETO_CALL_TIMEOUT_MS: '10000' }).jobs.lockMs, 10_001)
  })

  it('one knob for the bulk share: JOB_BUDGET_SHARE is the call gate\'s bulk share; MARKETO_BULK_SHARE is refused, naming its replacement', () => {
    const c = loadConfig({ JOB_BUDGET_SHARE: '0.3' })
    assert.equal(c.jobs.budgetShare, 0.3)
    assert.deepEqual(c.marketo.shares, { interactive: 1, bulk: 0.3 })
    assert.equal(loadConfig({}).marketo.shares.bulk, 0.5)
    assert.throws(() => loadConfig({ MARKETO_BULK_SHARE: '0.4' }), /MARKETO_BULK_SHARE is replaced by JOB_BUDGET_SHARE/)
  })
})

describe('bulk jobs without REDIS_URL', () => {
  it('POST /jobs answers 503 saying what to configure; the sync routes work as before', async (t) => {
    const gw = await startGateway()
    t.after(() => gw.close())
    const res = await postNdjson(gw.url, [opportunity('NR', 0)], 'kind=opportunities')
    assert.equal(res.status, 503, res.text)
    assert.equal(res.body.code, 'JOBS_NOT_CONFIGURED')
    assert.match(res.body.detail, /REDIS_URL/)
    const json = await request(`${gw.url}/jobs`, { body: { kind: 'opportunities', objects: [opportunity('NR', 0)] } })
    assert.equal(json.status, 503)
    const get = await request(`${gw.url}/jobs/00000000-0000-4000-8000-000000000000`)
    assert.equal(get.status, 503)
    const sync = await request(`${gw.url}/opportunities`, { body: { operation: 'upsert', opportunities: [opportunity('NR', 0)] } })
    assert.equal(sync.status, 200, sync.text)
  })
})
