import { test } from 'node:test'
import assert from 'node:assert/strict'
import { redisPair } from '../helpers/redis-pair.js'
import { RedisCallGate, type CallGateOptions, type GateSlot } from '../../src/upstream/state/redis/call-gate.js'
import { GatewayError } from '../../src/domain/errors.js'

// One connection per simulated replica.
const redis = redisPair({ flushEach: true })

function gates (opts: Omit<CallGateOptions, 'redis'>): [RedisCallGate, RedisCallGate] {
  return [new RedisCallGate({ ...opts, redis: redis.a }), new RedisCallGate({ ...opts, redis: redis.b })]
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// The largest number of grant times inside any half-open window [t, t + windowMs).
function maxInWindow (times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b)
  let best = 0
  let j = 0
  for (let i = 0; i < sorted.length; i++) {
    while (sorted[i] - sorted[j] >= windowMs) j++
    best = Math.max(best, i - j + 1)
  }
  return best
}

test('the window check itself detects a violation (so the hammer test can fail)', () => {
  assert.equal(maxInWindow([0, 100, 200, 399], 400), 4)
  assert.equal(maxInWindow([0, 100, 200, 400], 400), 3)
})

test('two replicas hammering never exceed N calls in any rolling window nor C in flight', async () => {
  const N = 5
  const W = 400
  const C = 3
  const [a, b] = gates({ maxConcurrent: C, rate: { calls: N, windowMs: W }, leaseMs: 5_000, maxQueue: 100, pollMs: 10 })
  const grants: number[] = []
  let inFlight = 0
  let maxInFlight = 0
  const deadline = Date.now() + 15_000
  const worker = async (gate: RedisCallGate, i: number): Promise<void> => {
    const slot = await gate.acquireSlot(deadline, 'interactive')
    grants.push(slot.grantedAt)
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    await sleep(5 + (i * 7) % 40)
    inFlight--
    slot.release()
  }
  const jobs: Array<Promise<void>> = []
  for (let i = 0; i < 12; i++) jobs.push(worker(a, i), worker(b, i + 12))
  await Promise.all(jobs)
  assert.equal(grants.length, 24)
  assert.ok(maxInWindow(grants, W) <= N, `at most ${N} calls in any ${W} ms window, got ${maxInWindow(grants, W)}`)
  // Not vacuous: the window was actually full at some point.
  assert.equal(maxInWindow(grants, W), N)
  assert.ok(maxInFlight <= C, `at most ${C} in flight, got ${maxInFlight}`)
  assert.equal(a.inFlight + b.inFlight, 0)
  assert.equal(await redis.a.zcard('{mkto:gate}:lease'), 0, 'every release removed its lease')
})

test('a dead holder\'s lease expires and frees its slot for another replica', async () => {
  const [a, b] = gates({ maxConcurrent: 1, rate: null, leaseMs: 300, maxQueue: 10, pollMs: 20 })
  const dead: GateSlot = await a.acquireSlot(Date.now() + 1_000)
  // While the lease lives, the other replica cannot start.
  await assert.rejects(b.acquire(Date.now() + 100), (err: GatewayError) => err.code === 'RATE_LIMITED')
  const next = await b.acquireSlot(Date.now() + 3_000)
  assert.ok(next.grantedAt >= dead.grantedAt + 300, `granted ${next.grantedAt - dead.grantedAt} ms after the dead holder`)
  next.release()
})

test('running the script twice for the same call id takes one slot, not two', async () => {
  const [a, b] = gates({ maxConcurrent: 1, rate: { calls: 2, windowMs: 10_000 }, leaseMs: 5_000, maxQueue: 10 })
  const first = await a.tryAcquire('call-1')
  const again = await b.tryAcquire('call-1')
  assert.ok(first.granted && again.granted)
  assert.equal(again.grantedAt, first.grantedAt)
  assert.equal(await redis.a.zcard('{mkto:gate}:win'), 1)
  assert.equal(await redis.a.zcard('{mkto:gate}:lease'), 1)
  const other = await a.tryAcquire('call-2')
  assert.ok(!other.granted && other.reason === 'concurrency', 'C = 1 is held by call-1 alone')
})

test('a cool-down set by one replica is honoured by both, and never shortened', async () => {
  const [a, b] = gates({ maxConcurrent: 10, rate: { calls: 100, windowMs: 20_000 }, leaseMs: 5_000, maxQueue: 10, pollMs: 20 })
  const cool = await a.coolDown(20023, 600)
  const shorter = await b.coolDown(20024, 100)
  assert.ok(shorter.until >= cool.until - 5, 'a shorter cool-down does not end a longer one')
  for (const gate of [a, b]) {
    await assert.rejects(gate.acquire(Date.now() + 100), (err: GatewayError) =>
      err.code === 'RATE_LIMITED' && (err.retryAfterMs ?? 0) > 100 && (err.retryAfterMs ?? 0) <= 600)
  }
  const [sa, sb] = await Promise.all([a.acquireSlot(Date.now() + 3_000), b.acquireSlot(Date.now() + 3_000)])
  assert.ok(sa.grantedAt >= cool.until - 1 && sb.grantedAt >= cool.until - 1, 'no grant before the cool-down ended')
  sa.release()
  sb.release()
})

test('the bulk class gets at most its share of the window; interactive keeps the rest', async () => {
  const [a, b] = gates({ maxConcurrent: 10, rate: { calls: 10, windowMs: 5_000 }, leaseMs: 5_000, maxQueue: 100, shares: { interactive: 1, bulk: 0.3 } })
  const latest = Date.now() + 300
  const bulk = await Promise.allSettled([a, b, a, b, a, b].map(async (g) => (await g.acquire(latest, 'bulk'))()))
  assert.equal(bulk.filter((r) => r.status === 'fulfilled').length, 3)
  for (const r of bulk) if (r.status === 'rejected') assert.equal((r.reason as GatewayError).code, 'RATE_LIMITED')
  const interactive = await Promise.allSettled([a, b, a, b, a, b, a, b].map(async (g) => (await g.acquire(latest, 'interactive'))()))
  assert.equal(interactive.filter((r) => r.status === 'fulfilled').length, 7, '10 in the window: 3 bulk + 7 interactive')
  await assert.rejects(a.tryAcquire('x', 'nope'), /unknown traffic class/)
})

test('queue bound, close() and a hung Redis: rejections, never hangs', async () => {
  const [a] = gates({ maxConcurrent: 1, rate: null, leaseMs: 5_000, maxQueue: 1, pollMs: 20 })
  const holder = await a.acquireSlot(Date.now() + 1_000)
  const waiting = a.acquire(Date.now() + 10_000)
  await sleep(50)
  assert.equal(a.queueDepth, 1)
  await assert.rejects(a.acquire(Date.now() + 10_000), (err: GatewayError) => err.code === 'QUEUE_FULL')
  a.close()
  await assert.rejects(waiting, (err: GatewayError) => err.code === 'SHUTTING_DOWN')
  holder.release()

  const [g] = gates({ maxConcurrent: 10, rate: { calls: 100, windowMs: 20_000 }, leaseMs: 5_000, maxQueue: 10, pollMs: 20 })
  const logged = await redis.a.zcard('{mkto:gate}:win')
  redis.server.pause()
  let outcome: unknown
  try {
    outcome = await Promise.race([g.acquire(Date.now() + 800).then(() => 'granted', (err: GatewayError) => err), sleep(5_000).then(() => 'guard')])
  } finally {
    redis.server.resume()
  }
  assert.ok(outcome instanceof GatewayError && outcome.code === 'RATE_LIMITED', `rejected, got ${String(outcome)}`)
  assert.match(outcome.message, /Redis/)
  // The stopped server still runs the tries it had received once it continues; the gate sent a
  // release for that id when it gave up, so no lease is left held by a request that was refused.
  let leases = -1
  for (let i = 0; i < 40 && leases !== 0; i++) {
    leases = await redis.a.zcard('{mkto:gate}:lease').catch(() => -1)
    if (leases !== 0) await sleep(50)
  }
  assert.equal(leases, 0)
  assert.ok(await redis.a.zcard('{mkto:gate}:win') <= logged + 1, 'the repeated tries of one id took at most one window slot')
})

test('after a Redis restart (script cache lost) the gate loads its script again', async () => {
  await redis.server.restart()
  let ready = false
  for (let i = 0; i < 60 && !ready; i++) {
    ready = await redis.a.ping().then(() => true, async () => { await sleep(100); return false })
  }
  const [a] = gates({ maxConcurrent: 10, rate: { calls: 100, windowMs: 20_000 }, leaseMs: 5_000, maxQueue: 10 })
  const release = await a.acquire(Date.now() + 2_000)
  release()
  for (let i = 0; i < 60; i++) {
    if (await redis.b.ping().then(() => true, () => false)) break
    await sleep(100)
  }
})

test('a call still in flight counts in the window after its grant left it (Marketo stamps it when it arrives)', async () => {
  const [a, b] = gates({ maxConcurrent: 5, rate: { calls: 1, windowMs: 200 }, leaseMs: 5_000, maxQueue: 10, pollMs: 10 })
  const held = await a.acquireSlot(Date.now() + 5_000)
  await sleep(300)
  // The grant is older than the window, but the call may not have reached Marketo yet.
  const r = await b.tryAcquire('second-call')
  assert.equal(r.granted, false)
  held.release()
  // Released: its entry moves to the answer time and leaves the window one window later.
  let granted = false
  for (let i = 0; i < 100 && !granted; i++) {
    granted = (await b.tryAcquire('third-call')).granted
    if (!granted) await sleep(20)
  }
  assert.ok(granted, 'the slot comes back once the call has ended and a window has passed')
  a.close()
  b.close()
})

test('the callers of one process take the freed slots in arrival order (FIFO), as with the in-process limiter', async () => {
  const [a] = gates({ maxConcurrent: 1, rate: null, leaseMs: 5_000, maxQueue: 10, pollMs: 5 })
  const first = await a.acquireSlot(Date.now() + 5_000)
  const order: number[] = []
  const waiting = [1, 2, 3, 4].map((n) => a.acquireSlot(Date.now() + 5_000).then((slot) => {
    order.push(n)
    // Hold the slot a moment, so the next one has to wait for it.
    setTimeout(() => slot.release(), 10)
  }))
  assert.equal(a.queueDepth, 3, 'one polls Redis, three wait their turn')
  first.release()
  await Promise.all(waiting)
  assert.deepEqual(order, [1, 2, 3, 4])
  a.close()
})

test('with failFast, a Redis known to be away is not even asked', async () => {
  let tries = 0
  const gate = new RedisCallGate({ redis: redis.a, maxConcurrent: 1, rate: null, leaseMs: 5_000, maxQueue: 10, failFast: true, available: () => { tries++; return false } })
  await assert.rejects(gate.acquireSlot(Date.now() + 5_000), { name: 'RedisUnavailableError' })
  assert.equal(tries, 1)
  assert.equal(await redis.a.exists('{mkto:gate}:lease'), 0, 'nothing written')
  gate.close()
})

test('pace: beyond a burst of min(C, calls / 2), two replicas together start one call per window / calls', async () => {
  const [a, b] = gates({ maxConcurrent: 2, rate: { calls: 10, windowMs: 1_000 }, leaseMs: 5_000, maxQueue: 10, pollMs: 5, pace: true })
  const grants: number[] = []
  for (let i = 0; i < 6; i++) {
    const slot = await (i % 2 === 0 ? a : b).acquireSlot(Date.now() + 5_000)
    grants.push(slot.grantedAt)
    slot.release()
  }
  // The first two (the burst) may start together; every later start is ≥ 100 ms after the one before.
  for (let i = 2; i < grants.length; i++) assert.ok(grants[i] - grants[i - 1] >= 100, `start ${i} ${grants[i] - grants[i - 1]} ms after the previous`)
  a.close()
  b.close()
})
