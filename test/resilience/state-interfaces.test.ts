import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { Admission } from '../../src/upstream/state/admission.js'
import { CallExecutor } from '../../src/upstream/executor.js'
import type { PreparedCall } from '../../src/upstream/backend.js'
import { classifyTransport } from '../../src/upstream/errors.js'
import { TransportError } from '../../src/upstream/transport.js'
import { GatewayError } from '../../src/domain/errors.js'
import type { Breaker, BreakerState, CallBudget, QuotaGuard, RetryAllowance } from '../../src/upstream/state/interfaces.js'

// Issue #13: the upstream state sits behind small async interfaces. Admission and the executor are
// built here with test-written implementations that answer a turn of the event loop later, as a
// shared (Redis) one would, and must behave as with the in-process defaults.

const silent = { debug () {}, info () {}, warn () {} }
const later = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

class SlowBreaker implements Breaker {
  state: BreakerState = 'closed'
  readonly seen: string[] = []
  constructor (private readonly answer: 'closed' | 'probe' | 'open' = 'closed', private readonly onAdmit?: () => void) {}
  async admit (): Promise<number> {
    await later()
    this.onAdmit?.()
    this.seen.push('admit')
    if (this.answer === 'open') throw new GatewayError('UPSTREAM_CIRCUIT_OPEN', 'open in the shared state', { retryAfterMs: 5_000 })
    return this.answer === 'probe' ? 41 : 0
  }

  success (): void { this.seen.push('success') }
  failure (): void { this.seen.push('failure') }
  releaseProbe (ticket: number): void { this.seen.push(`releaseProbe ${ticket}`) }
}

class SlowQuota implements QuotaGuard {
  until = 0
  code = 0
  calls = 0
  readonly blocks: Array<[number, number]> = []
  get blocked (): boolean { return this.until > Date.now() }
  get blockedUntil (): number { return this.blocked ? this.until : 0 }
  async check (): Promise<void> {
    await later()
    if (this.blocked) throw new GatewayError('UPSTREAM_QUOTA_EXCEEDED', 'quota used up in the shared state', { upstreamCode: this.code, retryAfterMs: this.until - Date.now() })
  }

  block (code: number, ms: number): void {
    this.blocks.push([code, ms])
    this.code = code
    this.until = Date.now() + ms
  }

  recordCall (): void { this.calls++ }
}

class SlowRetries implements RetryAllowance {
  calls = 0
  asked = 0
  constructor (private readonly allow: boolean) {}
  recordCall (): void { this.calls++ }
  async tryRetry (): Promise<boolean> {
    await later()
    this.asked++
    return this.allow
  }
}

class SlowBudget implements CallBudget {
  acquired = 0
  released = 0
  inFlight = 0
  queueDepth = 0
  constructor (private readonly refuse = false) {}
  async acquire (): Promise<() => void> {
    await later()
    if (this.refuse) throw new GatewayError('RATE_LIMITED', 'the shared call budget is used up', { retryAfterMs: 1_000 })
    this.acquired++
    return () => { this.released++ }
  }

  estimatedWaitMs (): number { return 0 }
  close (): void {}
}

function setup (parts: { breaker?: SlowBreaker, quota?: SlowQuota, retries?: SlowRetries, budget?: SlowBudget } = {}) {
  const breaker = parts.breaker ?? new SlowBreaker()
  const quota = parts.quota ?? new SlowQuota()
  const retries = parts.retries ?? new SlowRetries(true)
  const budget = parts.budget ?? new SlowBudget()
  const admission = new Admission({ limiter: budget, breaker, quota, callTimeoutMs: 1_000, quotaRetryAfterMs: 60_000 })
  const calls = new CallExecutor({ classify: classifyTransport, admission, budget: retries, callTimeoutMs: 1_000, maxAttempts: 3, backoffBaseMs: 0, backoffMaxMs: 0, quotaRetryAfterMs: 60_000 })
  let sends = 0
  const call = (fail?: () => Error): PreparedCall<string> => ({
    operation: 'syncMObjects',
    objects: 1,
    idempotent: false,
    parse: (raw: unknown) => raw as string,
    send: async () => {
      sends++
      if (fail !== undefined) throw fail()
      return 'ok'
    }
  })
  return {
    breaker,
    quota,
    retries,
    budget,
    get sends () { return sends },
    execute: (fail?: () => Error) => calls.execute(call(fail), Date.now() + 10_000, silent)
  }
}

const refused = (): Error => new TransportError('connect', 'refused', { sent: false })

describe('upstream state behind async interfaces: Admission and the executor use whatever they are given', () => {
  it('a call that every part admits goes out once and reports its outcome to each', async () => {
    const s = setup()
    assert.equal(await s.execute(), 'ok')
    assert.equal(s.sends, 1)
    assert.deepEqual(s.breaker.seen, ['admit', 'success'])
    assert.equal(s.quota.calls, 1)
    assert.equal(s.retries.calls, 1)
    assert.deepEqual([s.budget.acquired, s.budget.released], [1, 1])
  })

  it('a quota that reports blocked refuses the call: UPSTREAM_QUOTA_EXCEEDED, nothing sent, no slot taken', async () => {
    const quota = new SlowQuota()
    quota.block(607, 60_000)
    const s = setup({ quota })
    await assert.rejects(s.execute(), (err: GatewayError) => err.code === 'UPSTREAM_QUOTA_EXCEEDED' && err.upstreamCode === 607 && err.sent === false)
    assert.equal(s.sends, 0)
    assert.deepEqual(s.breaker.seen, [], 'the circuit is not asked')
    assert.equal(s.budget.acquired, 0)
    assert.equal(s.quota.calls, 0)
  })

  it('a breaker that refuses on admit refuses the call: UPSTREAM_CIRCUIT_OPEN, nothing sent, no slot taken', async () => {
    const s = setup({ breaker: new SlowBreaker('open') })
    await assert.rejects(s.execute(), (err: GatewayError) => err.code === 'UPSTREAM_CIRCUIT_OPEN' && err.retryAfterMs === 5_000)
    assert.equal(s.sends, 0)
    assert.equal(s.budget.acquired, 0)
  })

  it('a retry budget that answers false stops a transient retry after one send', async () => {
    const s = setup({ retries: new SlowRetries(false) })
    await assert.rejects(s.execute(refused), (err: GatewayError) => err.code === 'UPSTREAM_UNAVAILABLE')
    assert.equal(s.sends, 1)
    assert.equal(s.retries.asked, 1)
    assert.deepEqual(s.breaker.seen, ['admit', 'failure'])
  })

  it('a retry budget that answers true lets the same failure be retried up to MARKETO_MAX_ATTEMPTS', async () => {
    const s = setup({ retries: new SlowRetries(true) })
    await assert.rejects(s.execute(refused), (err: GatewayError) => err.code === 'UPSTREAM_UNAVAILABLE')
    assert.equal(s.sends, 3)
    assert.equal(s.retries.asked, 2)
    assert.equal(s.retries.calls, 3)
  })

  it('a half-open probe refused by the call gate is released, nothing sent', async () => {
    const s = setup({ breaker: new SlowBreaker('probe'), budget: new SlowBudget(true) })
    await assert.rejects(s.execute(), (err: GatewayError) => err.code === 'RATE_LIMITED')
    assert.equal(s.sends, 0)
    assert.deepEqual(s.breaker.seen, ['admit', 'releaseProbe 41'])
  })

  it('a probe that finds Marketo answering closes the circuit through success()', async () => {
    const s = setup({ breaker: new SlowBreaker('probe') })
    assert.equal(await s.execute(), 'ok')
    assert.deepEqual(s.breaker.seen, ['admit', 'success'])
  })

  it('Marketo\'s quota answer blocks the quota part, and the next call is refused before sending', async () => {
    const s = setup()
    const quotaFault = (): Error => new GatewayError('UPSTREAM_QUOTA_EXCEEDED', 'Marketo said 607', { upstreamCode: 607, sent: true })
    await assert.rejects(s.execute(quotaFault), (err: GatewayError) => err.code === 'UPSTREAM_QUOTA_EXCEEDED')
    assert.deepEqual(s.quota.blocks, [[607, 60_000]])
    assert.deepEqual(s.breaker.seen, ['admit', 'success'], 'Marketo answered: the transport works')
    const sends = s.sends
    await assert.rejects(s.execute(), (err: GatewayError) => err.code === 'UPSTREAM_QUOTA_EXCEEDED' && err.upstreamCode === 607)
    assert.equal(s.sends, sends)
  })

  it('a call that can no longer start in time after slow answers takes no slot and releases its probe', async () => {
    let now = 0
    // The circuit answers 600 ms later: a call of a request due at 1,500 ms could no longer run its whole 1,000 ms.
    const breaker = new SlowBreaker('probe', () => { now = 600 })
    const budget = new SlowBudget()
    const admission = new Admission({ limiter: budget, breaker, quota: new SlowQuota(), callTimeoutMs: 1_000, quotaRetryAfterMs: 60_000, now: () => now })
    await assert.rejects(admission.acquire(1_500), (err: GatewayError) => err.code === 'RATE_LIMITED' && err.sent === false)
    assert.equal(budget.acquired, 0)
    assert.deepEqual(breaker.seen, ['admit', 'releaseProbe 41'])
  })
})

describe('Admission, the retry policy and the executor depend only on the state interfaces', () => {
  const files = ['src/upstream/state/admission.ts', 'src/upstream/state/retry-policy.ts', 'src/upstream/executor.ts']
  const concrete = /\b(CircuitBreaker|RetryBudget|QuotaState|SharedQuotaState|Limiter|SharedCallBudget|RedisCallGate|SharedQuota|MemoryIdempotencyStore|RedisIdempotencyStore)\b/
  const stateModules = /\/(breaker|quota-state|shared-quota-state|limiter|shared-budget|idempotency)\.js$|\/redis\//

  for (const file of files) {
    it(`${file} imports no state class, and the interfaces only as types`, async () => {
      const source = await readFile(new URL(`../../${file}`, import.meta.url), 'utf8')
      const imports = [...source.matchAll(/^(import|export)\s+(type\s+)?(\{[^}]*\}|\*\s+as\s+\w+|\w+(?:\s*,\s*\{[^}]*\})?)\s+from\s+'([^']+)'/gm)]
      assert.ok(imports.length > 0)
      for (const [statement, , type, names, from] of imports) {
        assert.doesNotMatch(from, stateModules, statement)
        assert.doesNotMatch(names, concrete, statement)
        if (from.endsWith('/interfaces.js')) assert.ok(type !== undefined, `${statement}: import type only`)
      }
    })
  }
})
