import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { hashKey, startGateway, TEST_API_KEY, type TestGateway } from '../helpers/gateway.js'
import { postNdjson, waitForJob } from './helpers.js'
import { maxInWindow } from '../replicas/processes.js'

// Issue #16: bulk jobs use at most JOB_BUDGET_SHARE of Marketo's call window, counted where the
// calls are admitted (the shared call gate, traffic class 'bulk'), so every Marketo call of a job
// counts: a chunk that needs two calls (REST: opportunities then their roles), a retry, a read-back.
// The simulator has the window of 20 calls per 2 s; the share is 0.5, so a job may make at most 10
// calls in any 2 s, measured by when the simulator received them.
const CALLS = 20
const WINDOW_MS = 2_000
const SHARE = 0.5
const ENV = {
  MARKETO_RATE_LIMIT_CALLS: String(CALLS),
  MARKETO_RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
  JOB_BUDGET_SHARE: String(SHARE),
  API_KEYS: `test:${hashKey(TEST_API_KEY)}`
}

for (const backend of ['soap', 'rest'] as const) {
  describe(`bulk share at the call gate (${backend}, real redis-server)`, () => {
    let redis: TestRedis
    let gw: TestGateway

    before(async () => {
      redis = await startRedis()
      gw = await startGateway({ backend, env: { ...ENV, REDIS_URL: redis.url }, simulator: { limits: { rateLimit: { calls: CALLS, windowMs: WINDOW_MS }, maxConcurrent: 10 } } })
    })
    after(async () => {
      await gw?.close()
      await redis?.stop()
    })

    it('a job whose chunks need several Marketo calls each on REST stays within its share of every rolling window', async () => {
      // Groups of 100 lines: 50 opportunities, then the 50 roles naming them. SOAP sends a chunk of
      // 100 objects as one call; REST (chunks of 300) makes one call per run of one type, so two
      // calls per group.
      const lines: object[] = []
      const groups = 12
      for (let c = 0; c < groups; c++) {
        for (let i = 0; i < 50; i++) lines.push({ type: 'Opportunity', externalKey: { name: 'opportunityId', value: `BS-${backend}-${c}-${i}` }, attributes: { Name: `BS ${c} ${i}` } })
        for (let i = 0; i < 50; i++) lines.push({ type: 'OpportunityPersonRole', attributes: { PersonId: 19, Role: `R${i}` }, associations: [{ type: 'Opportunity', externalKey: { name: 'opportunityId', value: `BS-${backend}-${c}-${i}` } }] })
      }
      const res = await postNdjson(gw.url, lines, 'kind=mobjects&operation=upsert')
      assert.equal(res.status, 202, res.text)
      const job = await waitForJob(gw.url, res.body.id)
      assert.equal(job.state, 'completed', JSON.stringify(job))
      assert.equal(job.counts.failed + job.counts.unknown + job.counts.notApplied, 0, JSON.stringify(job.counts))
      const jobCalls = gw.sim.ledger.filter((e) => e.objects?.some((o) => o.externalKey?.value.startsWith(`BS-${backend}-`) === true || o.associations?.some((a) => a.externalKey?.value.startsWith(`BS-${backend}-`) === true)))
      const perGroup = backend === 'rest' ? 2 : 1
      assert.equal(jobCalls.length, groups * perGroup, 'every call made once')
      assert.equal(job.calls, groups * perGroup)
      const most = maxInWindow(jobCalls, WINDOW_MS)
      assert.ok(most <= Math.floor(CALLS * SHARE), `the job made ${most} calls in one ${WINDOW_MS} ms window; its share is ${Math.floor(CALLS * SHARE)}`)
      assert.deepEqual(gw.sim.stats.faultsByCode, {})
    })
  })
}

describe('waiting for the bulk share uses no chunk attempt (real redis-server)', () => {
  let redis: TestRedis
  let gw: TestGateway

  before(async () => {
    redis = await startRedis()
    // 2 bulk calls per 2 s, and a chunk's deadline leaves it 100 ms to find a slot: most chunks are
    // refused by the gate (RATE_LIMITED, nothing sent) several times before they go. With one
    // attempt per chunk, a refusal that counted as an attempt would fail the job.
    gw = await startGateway({
      env: { ...ENV, MARKETO_RATE_LIMIT_CALLS: '4', REDIS_URL: redis.url, JOB_CHUNK_ATTEMPTS: '1', REQUEST_TIMEOUT_MS: '600', MARKETO_CALL_TIMEOUT_MS: '500' },
      simulator: { limits: { rateLimit: { calls: 4, windowMs: WINDOW_MS }, maxConcurrent: 10 } }
    })
  })
  after(async () => {
    await gw?.close()
    await redis?.stop()
  })

  it('a job far beyond the share completes with JOB_CHUNK_ATTEMPTS=1, every chunk sent once, 2 calls per window at most', async () => {
    const chunks = 6
    const lines = Array.from({ length: chunks * 100 }, (_, i) => ({ externalKey: { name: 'opportunityId', value: `BW-${i}` }, name: `BW ${i}` }))
    const res = await postNdjson(gw.url, lines, 'kind=opportunities&operation=upsert')
    assert.equal(res.status, 202, res.text)
    const job = await waitForJob(gw.url, res.body.id)
    assert.equal(job.state, 'completed', JSON.stringify(job))
    assert.equal(job.counts.created, chunks * 100, JSON.stringify(job.counts))
    const jobCalls = gw.sim.ledger.filter((e) => e.objects?.some((o) => o.externalKey?.value.startsWith('BW-') === true))
    assert.equal(jobCalls.length, chunks)
    assert.ok(maxInWindow(jobCalls, WINDOW_MS) <= 2)
    assert.deepEqual(gw.sim.stats.faultsByCode, {})
  })
})
