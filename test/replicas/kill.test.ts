import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { postOpportunity, startReplica, startSimulatorProcess, type Answer, type Proc, type SimProc } from './processes.js'

// R4 and R5 (TEST-MATRIX): a replica killed with SIGKILL while its Marketo call is in flight.
const CALL_TIMEOUT_MS = 2_000
// What the gateway sets: call timeout + LEASE_MARGIN_MS (src/http/plugins/marketo.ts).
const GATE_LEASE_MS = CALL_TIMEOUT_MS + 2_000
const IDEMPOTENCY_LEASE_MS = 1_500

let redis: TestRedis
let client: Redis
let sim: SimProc
let a: Proc
let b: Proc

const env = {
  MARKETO_CALL_TIMEOUT_MS: String(CALL_TIMEOUT_MS),
  REQUEST_TIMEOUT_MS: '10000',
  // One Marketo call at a time for the whole subscription: a lost lease would block every call.
  MARKETO_MAX_CONCURRENCY: '1',
  IDEMPOTENCY_LEASE_MS: String(IDEMPOTENCY_LEASE_MS),
  COALESCE_WINDOW_MS: '0'
}

before(async () => {
  redis = await startRedis()
  client = new Redis(redis.url, { lazyConnect: false, maxRetriesPerRequest: 1 })
  sim = await startSimulatorProcess({ rateLimit: null, maxConcurrent: 10 })
  ;[a, b] = await Promise.all([startReplica(sim.endpoint, redis.url, env), startReplica(sim.endpoint, redis.url, env)])
})

after(async () => {
  await Promise.all([a?.stop(), b?.stop()])
  await sim?.stop()
  client?.disconnect()
  await redis?.stop()
})

/** Leases in the shared gate that have not expired (Redis time). */
async function liveLeases (): Promise<number> {
  const [s, us] = await client.time()
  const now = Number(s) * 1000 + Math.floor(Number(us) / 1000)
  return await client.zcount('{mkto:gate}:lease', `(${now}`, '+inf')
}

async function until<T> (what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + timeoutMs
  for (let i = 0; i < 1_000; i++) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > end) break
    await sleep(50)
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`)
}

describe('a replica killed during its Marketo call', () => {
  it('R4 + R5: its lease frees within the lease time, and a retry of its keyed INSERT answers the unknown outcome; the object is created at most once', async () => {
    const key = randomUUID()
    const value = `killed-${key}`
    const body = { operation: 'insert', opportunities: [{ name: value, externalKey: { name: 'opportunityId', value } }] }
    // The call is received and then held well past the kill.
    await sim.knobDefault({ latencyMs: 3_000 })
    const inFlight = postOpportunity(a.url, body, { 'idempotency-key': key }).catch((err: Error) => err)
    await until('the call reaches the simulator', 10_000, async () => (await sim.stats()).currentConcurrent >= 1 ? true : undefined)
    assert.equal(await liveLeases(), 1, 'replica A holds the one concurrency lease')
    const killedAt = Date.now()
    await a.kill()
    assert.ok(await inFlight instanceof Error, 'A never answered')
    await sim.knobDefault()

    // R4: nobody releases the lease; it expires on its own.
    await until('the dead replica\'s lease expires', GATE_LEASE_MS + 2_000, async () => await liveLeases() === 0 ? true : undefined)
    assert.ok(Date.now() - killedAt <= GATE_LEASE_MS + 2_000)
    // The budget is not lost: B's unkeyed call gets the one slot.
    const other = `after-${key}`
    const served = await postOpportunity(b.url, { operation: 'insert', opportunities: [{ name: other, externalKey: { name: 'opportunityId', value: other } }] })
    assert.equal(served.status, 200)

    // R5: B sees the key in flight until A's idempotency lease runs out, then the unknown outcome.
    const retry = await until('the retry on B gets a final answer', IDEMPOTENCY_LEASE_MS + 5_000, async () => {
      const r: Answer = await postOpportunity(b.url, body, { 'idempotency-key': key })
      return r.status === 409 && r.body.code === 'IDEMPOTENCY_KEY_IN_USE' ? undefined : r
    })
    assert.equal(retry.status, 409)
    assert.equal(retry.body.code, 'IDEMPOTENCY_OUTCOME_UNKNOWN')
    assert.equal(retry.headers.get('retry-after'), null, 'waiting does not change the answer')
    assert.equal(retry.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    assert.deepEqual(retry.body.results, [{ index: 0, id: null, status: 'unknown' }])
    assert.equal(retry.body.summary.unknown, 1)
    // Asked again: the same answer, still nothing sent.
    const again = await postOpportunity(b.url, body, { 'idempotency-key': key })
    assert.equal(again.body.code, 'IDEMPOTENCY_OUTCOME_UNKNOWN')

    const ledger = await sim.ledger()
    const carrying = ledger.filter((e) => e.objects?.some((o) => o.externalKey?.value === value))
    assert.equal(carrying.length, 1, 'the INSERT reached Marketo once: the retries sent nothing')
    const created = carrying.flatMap((e) => e.statuses ?? []).filter((s) => s.status === 'CREATED')
    assert.ok(created.length <= 1, 'created at most once')
  })
})
