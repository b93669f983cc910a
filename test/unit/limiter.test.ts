import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Limiter } from '../../src/upstream/state/limiter.js'
import { CircuitBreaker, RetryBudget } from '../../src/upstream/state/breaker.js'
import { GatewayError } from '../../src/domain/errors.js'

describe('Limiter', () => {
  it('never lets more than maxConcurrent in at once, and queues the rest in order', async () => {
    const limiter = new Limiter({ maxConcurrent: 2, rate: null, maxQueue: 10 })
    const deadline = Date.now() + 5_000
    const a = await limiter.acquire(deadline)
    const b = await limiter.acquire(deadline)
    const order: string[] = []
    const c = limiter.acquire(deadline).then((r) => { order.push('c'); return r })
    const d = limiter.acquire(deadline).then((r) => { order.push('d'); return r })
    assert.equal(limiter.inFlight, 2)
    assert.equal(limiter.queueDepth, 2)
    a()
    const releaseC = await c
    assert.deepEqual(order, ['c'])
    b()
    const releaseD = await d
    assert.deepEqual(order, ['c', 'd'])
    releaseC()
    releaseD()
    assert.equal(limiter.inFlight, 0)
  })

  it('rejects at once when the queue is full (503 QUEUE_FULL with a wait hint)', async () => {
    const limiter = new Limiter({ maxConcurrent: 1, rate: null, maxQueue: 1 })
    const deadline = Date.now() + 5_000
    const release = await limiter.acquire(deadline)
    const queued = limiter.acquire(deadline)
    await assert.rejects(limiter.acquire(deadline), (err: GatewayError) => err.code === 'QUEUE_FULL' && err.statusCode === 503 && err.retryAfterMs !== undefined)
    release()
    ;(await queued)()
    assert.equal(limiter.rejected, 1)
  })

  it('holds a rolling window of calls and says at once when a wait would pass the deadline', async () => {
    const limiter = new Limiter({ maxConcurrent: 10, rate: { calls: 4, windowMs: 300 }, maxQueue: 10 })
    const started = Date.now()
    for (let i = 0; i < 4; i++) (await limiter.acquire(started + 5_000))()
    await assert.rejects(limiter.acquire(Date.now() + 50), (err: GatewayError) => err.code === 'RATE_LIMITED' && err.statusCode === 429)
    const release = await limiter.acquire(started + 5_000)
    assert.ok(Date.now() - started >= 250, `waited for the window: ${Date.now() - started} ms`)
    release()
  })

  it('spreads call starts once half of the window is used', async () => {
    const limiter = new Limiter({ maxConcurrent: 10, rate: { calls: 10, windowMs: 1_000 }, maxQueue: 10 })
    const deadline = Date.now() + 5_000
    const t0 = Date.now()
    for (let i = 0; i < 5; i++) (await limiter.acquire(deadline))()  // burst: min(maxConcurrent 10, calls / 2 = 5)
    assert.ok(Date.now() - t0 < 50, 'the first half goes out at once')
    const t1 = Date.now()
    ;(await limiter.acquire(deadline))()
    ;(await limiter.acquire(deadline))()
    assert.ok(Date.now() - t1 >= 150, `then one start per 100 ms: ${Date.now() - t1} ms`)
  })

  it('close() rejects every waiter', async () => {
    const limiter = new Limiter({ maxConcurrent: 1, rate: null, maxQueue: 5 })
    await limiter.acquire(Date.now() + 5_000)
    const waiting = limiter.acquire(Date.now() + 5_000)
    limiter.close()
    await assert.rejects(waiting, (err: GatewayError) => err.code === 'SHUTTING_DOWN')
  })
})

describe('CircuitBreaker', () => {
  it('opens after the threshold, fails fast with the remaining time, lets one probe through, closes on success', async () => {
    let now = 0
    const breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 1_000, now: () => now })
    for (let i = 0; i < 3; i++) {
      assert.equal(await breaker.admit(), 0)
      breaker.failure()
    }
    assert.equal(breaker.state, 'open')
    now = 400
    await assert.rejects(breaker.admit(), (err: GatewayError) => err.code === 'UPSTREAM_CIRCUIT_OPEN' && err.retryAfterMs === 600)
    now = 1_000
    assert.ok(await breaker.admit() > 0, 'the probe gets a ticket')
    assert.equal(breaker.state, 'half_open')
    await assert.rejects(breaker.admit(), (err: GatewayError) => err.code === 'UPSTREAM_CIRCUIT_OPEN')
    breaker.success()
    assert.equal(breaker.state, 'closed')
    assert.equal(await breaker.admit(), 0)
  })

  it('a failed probe opens it again', async () => {
    let now = 0
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 100, now: () => now })
    await breaker.admit()
    breaker.failure()
    now = 100
    await breaker.admit()
    breaker.failure()
    assert.equal(breaker.state, 'open')
    await assert.rejects(breaker.admit())
  })

  it('a released probe lets the next call probe; a stale ticket changes nothing', async () => {
    let now = 0
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 100, now: () => now })
    breaker.failure()
    now = 100
    const first = await breaker.admit()
    assert.equal(breaker.probeInFlight, true)
    breaker.releaseProbe(first)
    assert.equal(breaker.probeInFlight, false)
    const second = await breaker.admit()
    assert.notEqual(second, first)
    breaker.releaseProbe(first)
    assert.equal(breaker.probeInFlight, true, 'only the current ticket ends the probe')
    breaker.releaseProbe(0)
    assert.equal(breaker.probeInFlight, true)
  })
})

describe('RetryBudget', () => {
  it('allows retries up to the ratio of recent calls, with a floor', async () => {
    let now = 0
    const budget = new RetryBudget({ ratio: 0.2, minPerWindow: 2, windowMs: 1_000, now: () => now })
    assert.equal(await budget.tryRetry(), true)
    assert.equal(await budget.tryRetry(), true)
    assert.equal(await budget.tryRetry(), false)
    for (let i = 0; i < 20; i++) budget.recordCall()
    assert.equal(await budget.tryRetry(), true)
    assert.equal(await budget.tryRetry(), true)
    assert.equal(await budget.tryRetry(), false)
    now = 1_001
    assert.equal(await budget.tryRetry(), true)
  })
})
