import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { maxInWindow, postOpportunity, startReplica, startSimulatorProcess, type Answer, type Proc, type SimProc } from './processes.js'

// R6 (TEST-MATRIX): Redis hung (SIGSTOP), then dead (SIGKILL), under two replicas.
const WINDOW_MS = 2_000
const CALLS = 20
const CONCURRENT = 3
const REQUEST_TIMEOUT_MS = 5_000
// A request may take its deadline and the time to answer; generous on a busy machine.
const ANSWER_BOUND_MS = REQUEST_TIMEOUT_MS + 2_000

let redis: TestRedis
let sim: SimProc
let a: Proc
let b: Proc

const env = {
  MARKETO_RATE_LIMIT_CALLS: String(CALLS),
  MARKETO_RATE_LIMIT_WINDOW_MS: String(WINDOW_MS),
  MARKETO_MAX_CONCURRENCY: String(CONCURRENT),
  MARKETO_CALL_TIMEOUT_MS: '2000',
  REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
  COALESCE_WINDOW_MS: '0'
}

before(async () => {
  redis = await startRedis()
  sim = await startSimulatorProcess({ rateLimit: { calls: CALLS, windowMs: WINDOW_MS }, maxConcurrent: CONCURRENT })
  ;[a, b] = await Promise.all([startReplica(sim.endpoint, redis.url, env), startReplica(sim.endpoint, redis.url, env)])
})

after(async () => {
  redis?.resume()
  await Promise.all([a?.stop(), b?.stop()])
  await sim?.stop()
  await redis?.stop()
})

const body = (name: string): object => ({ operation: 'insert', opportunities: [{ name, externalKey: { name: 'opportunityId', value: name } }] })

async function readyz (url: string): Promise<{ status: string, redis?: { status: string, budget: string } }> {
  return await (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(5_000) })).json() as { status: string, redis?: { status: string, budget: string } }
}

async function waitRedis (url: string, status: 'up' | 'down', timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs
  for (let i = 0; i < 200 && Date.now() < end; i++) {
    if ((await readyz(url)).redis?.status === status) return
    await sleep(100)
  }
  throw new Error(`${url}: Redis not ${status} within ${timeoutMs} ms`)
}

/** Unkeyed writes on both replicas, then keyed ones: the first served, the second refused. */
async function duringOutage (label: string): Promise<void> {
  const unkeyed = await Promise.all(Array.from({ length: 8 }, (_, i) => postOpportunity(i % 2 === 0 ? a.url : b.url, body(`${label}-${i}-${randomUUID()}`))))
  for (const r of unkeyed) {
    assert.equal(r.status, 200, `${label}: unkeyed write served on the local share: ${JSON.stringify(r.body)}`)
    assert.ok(r.ms <= ANSWER_BOUND_MS, `${label}: answered in ${r.ms} ms`)
  }
  const keyed: Answer[] = await Promise.all([a.url, b.url, a.url, b.url].map((url) => postOpportunity(url, body(`${label}-keyed-${randomUUID()}`), { 'idempotency-key': randomUUID() })))
  for (const r of keyed) {
    assert.equal(r.status, 503, `${label}: keyed write refused (fail closed)`)
    assert.equal(r.body.code, 'IDEMPOTENCY_UNAVAILABLE')
    assert.match(String(r.headers.get('retry-after')), /^\d+$/)
    assert.ok(r.ms <= ANSWER_BOUND_MS, `${label}: answered in ${r.ms} ms`)
  }
  await Promise.all([waitRedis(a.url, 'down', 5_000), waitRedis(b.url, 'down', 5_000)])
  for (const url of [a.url, b.url]) {
    const ready = await readyz(url)
    assert.deepEqual({ status: ready.status, redis: ready.redis?.status, budget: ready.redis?.budget }, { status: 'degraded', redis: 'down', budget: 'local' })
  }
}

describe('Redis hung, then dead, under two replicas', () => {
  it('R6: unkeyed writes served within the local share, keyed writes 503, nothing past its deadline, recovery when Redis is back', async () => {
    const key = randomUUID()
    const before = await postOpportunity(a.url, body(`before-${key}`), { 'idempotency-key': key })
    assert.equal(before.status, 200)

    redis.pause()
    await duringOutage('hung')

    await redis.kill()
    await waitRedis(a.url, 'down', 5_000)
    await duringOutage('dead')

    // Back (an empty Redis: a restart without AOF loses the records, see the README).
    await redis.restart()
    await Promise.all([waitRedis(a.url, 'up', 10_000), waitRedis(b.url, 'up', 10_000)])
    const key2 = randomUUID()
    const after1 = await postOpportunity(a.url, body(`after-${key2}`), { 'idempotency-key': key2 })
    assert.equal(after1.status, 200)
    const replay = await postOpportunity(b.url, body(`after-${key2}`), { 'idempotency-key': key2 })
    assert.equal(replay.headers.get('idempotent-replayed'), 'true')
    for (const url of [a.url, b.url]) assert.deepEqual((await readyz(url)).redis, { status: 'up', budget: 'shared' })

    // The local shares (limits ÷ 2) kept the replicas inside Marketo's limits throughout.
    const stats = await sim.stats()
    const ledger = (await sim.ledger()).filter((e) => e.operation === 'syncMObjects')
    assert.deepEqual(stats.faultsByCode, {})
    assert.ok(stats.peakConcurrent <= CONCURRENT)
    assert.ok(maxInWindow(ledger, WINDOW_MS) <= CALLS)
  })
})
