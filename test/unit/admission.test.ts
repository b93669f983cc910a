import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Limiter } from '../../src/upstream/state/limiter.js'
import { CircuitBreaker, RetryBudget } from '../../src/upstream/state/breaker.js'
import { Admission } from '../../src/upstream/state/admission.js'
import { QuotaState } from '../../src/upstream/state/quota-state.js'
import { CallExecutor } from '../../src/upstream/executor.js'
import { BatchSender } from '../../src/upstream/batch.js'
import type { MarketoBackend } from '../../src/upstream/backend.js'
import { classifyTransport } from '../../src/upstream/errors.js'
import { TransportError } from '../../src/upstream/transport.js'
import { GatewayError } from '../../src/domain/errors.js'
import type { MObject } from '../../src/domain/model.js'

// Issue #12, defect 2: a half-open probe that the admission refuses after the breaker let it
// through (rolling window, queue full, deadline) must give the probe slot back, so that the
// circuit closes once Marketo answers.

const silent = { debug () {}, info () {}, warn () {} }
const objects: MObject[] = [{ type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'x' } }]

function setup (limiterOpts: ConstructorParameters<typeof Limiter>[0]) {
  let now = 1_000_000
  let up = false
  const clock = () => now
  const limiter = new Limiter({ ...limiterOpts, now: clock })
  const breaker = new CircuitBreaker({ failureThreshold: 2, openMs: 1_000, now: clock })
  const quota = new QuotaState(clock)
  const admission = new Admission({ limiter, breaker, quota, callTimeoutMs: 3_000, quotaRetryAfterMs: 60_000, now: clock })
  let sent = 0
  const backend = {
    classify: classifyTransport,
    planSync: (_op: string, objs: MObject[]) => ({
      local: new Map(),
      calls: [{
        operation: 'syncMObjects',
        objects: objs.length,
        idempotent: false,
        indexes: objs.map((_, i) => i),
        objectsSent: objs,
        parse: (raw: unknown) => raw as Array<{ id: number, status: 'CREATED' }>,
        send: async () => {
          sent++
          if (!up) throw new TransportError('connect', 'refused', { sent: false })
          return objs.map(() => ({ id: 1, status: 'CREATED' as const }))
        }
      }]
    })
  } as unknown as MarketoBackend
  const calls = new CallExecutor({ classify: classifyTransport, admission, budget: new RetryBudget({ ratio: 0, minPerWindow: 0, windowMs: 1_000 }), callTimeoutMs: 3_000, maxAttempts: 1, backoffBaseMs: 1, backoffMaxMs: 1, quotaRetryAfterMs: 60_000, now: clock })
  const executor = new BatchSender(backend, calls)
  return {
    limiter,
    breaker,
    executor,
    get sent () { return sent },
    advance (ms: number) { now += ms },
    get now () { return now },
    marketoUp () { up = true }
  }
}

async function openCircuit (s: ReturnType<typeof setup>): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const out = await s.executor.send('INSERT', objects, s.now + 10_000, silent)
    assert.equal(out.error?.code, 'UPSTREAM_UNAVAILABLE')
  }
  assert.equal(s.breaker.state, 'open')
  s.advance(1_001)
}

async function closesOnceMarketoAnswers (s: ReturnType<typeof setup>): Promise<void> {
  s.marketoUp()
  const sent = s.sent
  const out = await s.executor.send('INSERT', objects, s.now + 10_000, silent)
  assert.equal(out.error, undefined, out.error?.message)
  assert.deepEqual(out.results, [{ id: 1, status: 'CREATED' }])
  assert.equal(s.sent, sent + 1)
  assert.equal(s.breaker.state, 'closed')
}

describe('Admission: a refused half-open probe releases the probe slot', () => {
  it('refused by the rolling window', async () => {
    const s = setup({ maxConcurrent: 10, rate: { calls: 4, windowMs: 20_000 }, maxQueue: 10 })
    await openCircuit(s)
    // Other calls fill the window (spaced out: the limiter paces starts beyond a burst of 2).
    for (let i = 0; i < 2; i++) {
      s.advance(5_000)
      ;(await s.limiter.acquire(s.now + 5_000))()
    }
    const out = await s.executor.send('INSERT', objects, s.now + 10_000, silent)
    assert.equal(out.error?.code, 'RATE_LIMITED')
    assert.equal(s.breaker.probeInFlight, false)
    s.advance(20_001)
    await closesOnceMarketoAnswers(s)
  })

  it('refused because the queue is full', async () => {
    const s = setup({ maxConcurrent: 1, rate: null, maxQueue: 1 })
    await openCircuit(s)
    const held = await s.limiter.acquire(s.now + 50_000)
    const queued = s.limiter.acquire(s.now + 50_000)
    const out = await s.executor.send('INSERT', objects, s.now + 10_000, silent)
    assert.equal(out.error?.code, 'QUEUE_FULL')
    assert.equal(s.breaker.probeInFlight, false)
    held()
    ;(await queued)()
    await closesOnceMarketoAnswers(s)
  })

  it('refused because too little of the deadline is left for a whole call', async () => {
    const s = setup({ maxConcurrent: 10, rate: null, maxQueue: 10 })
    await openCircuit(s)
    const out = await s.executor.send('INSERT', objects, s.now + 2_999, silent)
    assert.equal(out.error?.code, 'RATE_LIMITED')
    assert.equal(out.error?.sent, false)
    assert.equal(s.breaker.probeInFlight, false)
    await closesOnceMarketoAnswers(s)
  })

  it('refused while waiting: the wait for a concurrency slot would leave less than a call timeout', async () => {
    const s = setup({ maxConcurrent: 1, rate: null, maxQueue: 10 })
    await openCircuit(s)
    const held = await s.limiter.acquire(s.now + 50_000)
    const pending = s.executor.send('INSERT', objects, Date.now() + 3_050, silent)
    // The real clock drives the limiter's waiting timer: 50 ms later the waiter gives up.
    const out = await pending
    assert.equal(out.error?.code, 'RATE_LIMITED')
    assert.equal(s.breaker.probeInFlight, false)
    held()
    await closesOnceMarketoAnswers(s)
  })

  it('a call cut short by the request\'s own deadline does not count against the breaker', async () => {
    const now = 0
    const clock = () => now
    const limiter = new Limiter({ maxConcurrent: 10, rate: null, maxQueue: 10, now: clock })
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 1_000, now: clock })
    const admission = new Admission({ limiter, breaker, quota: new QuotaState(clock), callTimeoutMs: 3_000, minCallMs: 1_000, quotaRetryAfterMs: 1, now: clock })
    const slot = await admission.acquire(2_000)
    assert.equal(slot.callDeadline, 2_000)
    slot.end(new GatewayError('UPSTREAM_TIMEOUT', 'the request deadline passed', { sent: true }))
    assert.equal(breaker.state, 'closed')
    const full = await admission.acquire(10_000)
    assert.equal(full.callDeadline, 3_000)
    full.end(new GatewayError('UPSTREAM_TIMEOUT', 'Marketo did not answer', { sent: true }))
    assert.equal(breaker.state, 'open')
  })

  it('a quota fault on any operation blocks every later call, naming the code Marketo sent', async () => {
    let now = 0
    const clock = () => now
    const admission = new Admission({ limiter: new Limiter({ maxConcurrent: 10, rate: null, maxQueue: 10, now: clock }), breaker: new CircuitBreaker({ failureThreshold: 1, openMs: 1, now: clock }), quota: new QuotaState(clock), callTimeoutMs: 100, quotaRetryAfterMs: 5_000, now: clock })
    ;(await admission.acquire(1_000)).end(new GatewayError('UPSTREAM_QUOTA_EXCEEDED', 'quota', { upstreamCode: 607 }))
    now = 4_000
    await assert.rejects(admission.acquire(10_000), (err: GatewayError) => err.code === 'UPSTREAM_QUOTA_EXCEEDED' && err.upstreamCode === 607 && err.retryAfterMs === 1_000)
    now = 5_001
    ;(await admission.acquire(10_000)).end()
  })
})
