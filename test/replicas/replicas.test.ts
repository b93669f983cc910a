import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { maxInWindow, postOpportunity, startReplica, startSimulatorProcess, type Proc, type SimProc } from './processes.js'

// R1–R3 (docs TEST-MATRIX): two gateway processes, one simulator process with Marketo's limits
// scaled down, one real redis-server.
const WINDOW_MS = 2_000
const CALLS = 20
const CONCURRENT = 3

let redis: TestRedis
let sim: SimProc
let a: Proc
let b: Proc

const gatewayEnv = {
  MARKETO_RATE_LIMIT_CALLS: String(CALLS),
  MARKETO_RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
  MARKETO_MAX_CONCURRENCY: String(CONCURRENT),
  MARKETO_CALL_TIMEOUT_MS: '3000',
  REQUEST_TIMEOUT_MS: '15000',
  // Single-object calls: every request is one Marketo call (no coalescing hides the budget).
  COALESCE_WINDOW_MS: '0',
  API_KEY_RATE_LIMIT: '0'
}

before(async () => {
  redis = await startRedis()
  sim = await startSimulatorProcess({ rateLimit: { calls: CALLS, windowMs: WINDOW_MS }, maxConcurrent: CONCURRENT })
  ;[a, b] = await Promise.all([startReplica(sim.endpoint, redis.url, gatewayEnv), startReplica(sim.endpoint, redis.url, gatewayEnv)])
})

after(async () => {
  await Promise.all([a?.stop(), b?.stop()])
  await sim?.stop()
  await redis?.stop()
})

const opportunity = (name: string): object => ({ operation: 'insert', opportunities: [{ name, externalKey: { name: 'opportunityId', value: name } }] })

describe('two replicas on one Redis', () => {
  it('R1: a flood split over both replicas stays inside the subscription limits (0 × 20023/20024)', async () => {
    await sim.reset()
    await sim.limits({ rateLimit: { calls: CALLS, windowMs: WINDOW_MS }, maxConcurrent: CONCURRENT })
    // Each call takes 150 ms, so the concurrency limit is reached too, not only the window.
    await sim.knobDefault({ latencyMs: 150 })
    const total = 60
    const answers = await Promise.all(Array.from({ length: total }, (_, i) =>
      postOpportunity(i % 2 === 0 ? a.url : b.url, opportunity(`flood-${i}-${randomUUID()}`))))
    await sim.knobDefault()
    const statuses = answers.map((r) => r.status)
    const stats = await sim.stats()
    const ledger = (await sim.ledger()).filter((e) => e.operation === 'syncMObjects')
    assert.deepEqual(stats.faultsByCode, {}, 'no 20023/20024 (nor any fault) from the simulator')
    assert.ok(stats.peakConcurrent <= CONCURRENT, `peak concurrency ${stats.peakConcurrent} ≤ ${CONCURRENT}`)
    assert.ok(maxInWindow(ledger, WINDOW_MS) <= CALLS, `at most ${CALLS} calls in any ${WINDOW_MS} ms (got ${maxInWindow(ledger, WINDOW_MS)})`)
    // 60 calls at 20 per 2 s need ~6 s: all fit in the 15 s deadline, each on its own call.
    assert.deepEqual(statuses.filter((s) => s !== 200), [], 'every request answered 200')
    assert.equal(ledger.length, total)
    // Both replicas did take part.
    assert.ok(answers.every((r) => r.body.results[0].status === 'created'))
  })

  it('R2: a key used on replica A and retried on replica B is replayed, one upstream call', async () => {
    await sim.reset()
    const key = randomUUID()
    const body = opportunity(`r2-${key}`)
    const first = await postOpportunity(a.url, body, { 'idempotency-key': key })
    assert.equal(first.status, 200)
    const again = await postOpportunity(b.url, body, { 'idempotency-key': key })
    assert.equal(again.status, 200)
    assert.equal(again.headers.get('idempotent-replayed'), 'true')
    assert.deepEqual(again.body, first.body)
    const ledger = (await sim.ledger()).filter((e) => e.operation === 'syncMObjects')
    assert.equal(ledger.length, 1)
  })

  it('R3: ten parallel requests with one key across both replicas → one upstream call', async () => {
    await sim.reset()
    await sim.knobDefault({ latencyMs: 300 })
    const key = randomUUID()
    const body = opportunity(`r3-${key}`)
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => postOpportunity(i % 2 === 0 ? a.url : b.url, body, { 'idempotency-key': key })))
    await sim.knobDefault()
    const ledger = (await sim.ledger()).filter((e) => e.operation === 'syncMObjects')
    assert.equal(ledger.length, 1, 'exactly one Marketo call')
    const ok = answers.filter((r) => r.status === 200)
    const busy = answers.filter((r) => r.status === 409)
    assert.ok(ok.length >= 1, 'the first answered 200')
    assert.equal(ok.length + busy.length, 10, `only 200 or 409: ${answers.map((r) => r.status).join(',')}`)
    for (const r of busy) {
      assert.equal(r.body.code, 'IDEMPOTENCY_KEY_IN_USE')
      assert.match(String(r.headers.get('retry-after')), /^\d+$/)
    }
    // After completion, from either replica: the stored result.
    const replay = await postOpportunity(b.url, body, { 'idempotency-key': key })
    assert.equal(replay.headers.get('idempotent-replayed'), 'true')
    assert.equal((await sim.ledger()).filter((e) => e.operation === 'syncMObjects').length, 1)
  })
})
