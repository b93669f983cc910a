import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { redisPair } from '../helpers/redis-pair.js'
import { SharedQuota, marketoDay } from '../../src/upstream/state/redis/quota.js'
import { GatewayError } from '../../src/domain/errors.js'

const H = 3_600_000
const at = (iso: string): number => Date.parse(iso)
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

describe('marketoDay: midnight America/Chicago', () => {
  test('a winter day (CST, UTC-6) and the year boundary', () => {
    assert.deepEqual(marketoDay(at('2026-01-15T03:00:00Z')), { day: '2026-01-14', startsAt: at('2026-01-14T06:00:00Z'), resetsAt: at('2026-01-15T06:00:00Z') })
    assert.deepEqual(marketoDay(at('2026-12-31T23:00:00Z')), { day: '2026-12-31', startsAt: at('2026-12-31T06:00:00Z'), resetsAt: at('2027-01-01T06:00:00Z') })
  })

  test('the spring-forward day lasts 23 h (CST → CDT)', () => {
    const d = marketoDay(at('2026-03-08T12:00:00Z'))
    assert.deepEqual(d, { day: '2026-03-08', startsAt: at('2026-03-08T06:00:00Z'), resetsAt: at('2026-03-09T05:00:00Z') })
    assert.equal(d.resetsAt - d.startsAt, 23 * H)
    assert.equal(marketoDay(at('2026-03-08T05:59:59.999Z')).day, '2026-03-07')
    assert.equal(marketoDay(at('2026-03-09T05:00:00Z')).day, '2026-03-09')
    assert.equal(marketoDay(at('2026-03-09T04:59:59.999Z')).day, '2026-03-08')
  })

  test('the fall-back day lasts 25 h (CDT → CST)', () => {
    const d = marketoDay(at('2026-11-01T12:00:00Z'))
    assert.deepEqual(d, { day: '2026-11-01', startsAt: at('2026-11-01T05:00:00Z'), resetsAt: at('2026-11-02T06:00:00Z') })
    assert.equal(d.resetsAt - d.startsAt, 25 * H)
    assert.equal(marketoDay(at('2026-11-02T05:59:59.999Z')).day, '2026-11-01')
  })

  test('over a whole year: every instant lies in its day, days chain, and last 23, 24 or 25 h', () => {
    const lengths = new Map<number, number>()
    let checked = 0
    for (let t = at('2026-01-01T00:00:00Z'); t < at('2027-01-01T00:00:00Z') && checked < 20_000; t += 37 * 60_000 + 13_000) {
      const d = marketoDay(t)
      assert.ok(d.startsAt <= t && t < d.resetsAt, new Date(t).toISOString())
      assert.equal(marketoDay(d.resetsAt).startsAt, d.resetsAt)
      const len = (d.resetsAt - d.startsAt) / H
      lengths.set(len, (lengths.get(len) ?? 0) + 1)
      checked++
    }
    assert.deepEqual([...lengths.keys()].sort(), [23, 24, 25])
  })
})

describe('SharedQuota', () => {
  const redis = redisPair({ flushEach: true })

  // A clock that runs in real time from a chosen instant.
  const clockFrom = (start: number): (() => number) => {
    const t0 = Date.now()
    return () => start + (Date.now() - t0)
  }

  test('calls are counted per Marketo day across replicas', async () => {
    const a = new SharedQuota({ redis: redis.a, now: () => at('2026-03-08T12:00:00Z') })
    const b = new SharedQuota({ redis: redis.b, now: () => at('2026-03-09T04:59:00Z') })
    const nextDay = new SharedQuota({ redis: redis.b, now: () => at('2026-03-09T05:00:00Z') })
    assert.equal(await a.count(), 1)
    assert.equal(await b.count(2), 3, 'same Marketo day (2026-03-08 CDT) on another replica')
    assert.equal(await nextDay.count(), 1, 'a new day, a new counter')
    assert.equal(await a.used(), 3)
    assert.ok(await redis.a.pttl(a.counterKey('2026-03-08')) > 0, 'old counters expire')
  })

  test('a block by one replica is seen by the other, with QuotaState\'s error', async () => {
    const a = new SharedQuota({ redis: redis.a })
    const b = new SharedQuota({ redis: redis.b })
    assert.equal(await b.blocked(), false)
    await a.block(607)
    assert.equal(await b.blocked(), true)
    const err = await b.error()
    assert.ok(err instanceof GatewayError)
    assert.equal(err.code, 'UPSTREAM_QUOTA_EXCEEDED')
    assert.equal(err.upstreamCode, 607)
    const untilReset = marketoDay(Date.now()).resetsAt - Date.now()
    assert.ok((err.retryAfterMs ?? 0) > 0 && (err.retryAfterMs ?? 0) <= untilReset + 1_000, `retryAfterMs ${err.retryAfterMs} vs ${untilReset}`)
    await b.block(20015, 1_000)
    assert.equal((await a.error()).upstreamCode, 607, 'a shorter block does not replace a longer one')
  })

  test('the exhausted flag ends at the Chicago midnight, also when ms asks for longer', async () => {
    const reset = at('2026-11-02T06:00:00Z')
    const a = new SharedQuota({ redis: redis.a, now: clockFrom(reset - 300) })
    const b = new SharedQuota({ redis: redis.b, now: clockFrom(reset - 300) })
    await a.block(20015, 3_600_000)
    assert.equal(await b.blocked(), true)
    assert.ok((await b.status()).retryAfterMs <= 300)
    await sleep(450)
    assert.equal(await b.blocked(), false)
    assert.equal((await b.error()).retryAfterMs, 0)
  })

  test('ms shortens the block (MARKETO_QUOTA_RESET_MS)', async () => {
    const a = new SharedQuota({ redis: redis.a })
    await a.block(20015, 150)
    assert.equal(await a.blocked(), true)
    await sleep(250)
    assert.equal(await a.blocked(), false)
  })
})
