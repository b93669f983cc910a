import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Limiter } from '../../src/upstream/state/limiter.js'
import type { GatewayError } from '../../src/domain/errors.js'

// Issue #12, defect 3: the wait estimate includes the wait for a concurrency slot, so a caller
// that cannot start in time is told at once instead of starting with milliseconds left.
describe('Limiter wait estimate', () => {
  it('counts the wait for a concurrency slot from the durations of recent calls', async () => {
    let now = 0
    const limiter = new Limiter({ maxConcurrent: 2, rate: null, maxQueue: 100, now: () => now })
    const first = [await limiter.acquire(100_000), await limiter.acquire(100_000)]
    now = 1_000
    for (const release of first) release()
    // Calls take 1 s. Two in flight since t = 1 000, two more queued.
    const inFlight = [await limiter.acquire(100_000), await limiter.acquire(100_000)]
    const queued = [limiter.acquire(100_000), limiter.acquire(100_000)]
    now = 1_200
    // The two queued calls take the slots at t = 2 000; a fifth caller gets one at t = 3 000.
    assert.equal(limiter.estimatedWaitMs(), 1_800)
    await assert.rejects(limiter.acquire(now + 1_000), (err: GatewayError) => err.code === 'RATE_LIMITED' && err.retryAfterMs === 1_800)
    for (const release of inFlight) release()
    for (const p of queued) (await p)()
    assert.equal(limiter.inFlight, 0)
  })

  it('is 0 while a concurrency slot is free', async () => {
    let now = 0
    const limiter = new Limiter({ maxConcurrent: 2, rate: null, maxQueue: 100, now: () => now })
    const a = await limiter.acquire(10_000)
    now = 5_000
    assert.equal(limiter.estimatedWaitMs(), 0)
    a()
  })
})
