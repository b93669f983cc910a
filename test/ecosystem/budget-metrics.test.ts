import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { QuotaDay } from '../../src/http/plugins/budget-metrics.js'
import { loadConfig, ConfigError } from '../../src/config.js'
import { startGateway, request, type TestGateway } from '../helpers/gateway.js'

// The value of one series; undefined when it is not exported.
function sample (text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3])
  }
  return undefined
}

const at = (iso: string): number => Date.parse(iso)

describe('QuotaDay', () => {
  it('resets at midnight US Central by default: CST, CDT and both DST change days', () => {
    const cases: Array<[string, string]> = [
      ['2026-12-03T12:00:00Z', '2026-12-04T06:00:00Z'], // CST, UTC-6
      ['2026-12-04T05:59:59Z', '2026-12-04T06:00:00Z'],
      ['2026-12-04T06:00:00Z', '2026-12-05T06:00:00Z'],
      ['2026-07-01T12:00:00Z', '2026-07-02T05:00:00Z'], // CDT, UTC-5
      ['2026-03-08T03:00:00Z', '2026-03-08T06:00:00Z'], // Mar 7, 21:00 CST; clocks go forward at 2:00
      ['2026-03-08T12:00:00Z', '2026-03-09T05:00:00Z'],
      ['2026-11-01T04:00:00Z', '2026-11-01T05:00:00Z'], // Oct 31, 23:00 CDT; clocks go back at 2:00
      ['2026-11-01T12:00:00Z', '2026-11-02T06:00:00Z']
    ]
    for (const [now, reset] of cases) {
      assert.equal(new Date(new QuotaDay('America/Chicago', () => at(now)).nextReset).toISOString(), new Date(at(reset)).toISOString(), now)
    }
    assert.equal(new QuotaDay('UTC', () => at('2026-12-03T12:00:00Z')).nextReset, at('2026-12-04T00:00:00Z'))
  })

  it('counts the calls of the current quota day, from the process start, then from each midnight', () => {
    let now = at('2026-12-03T12:00:00Z')
    const day = new QuotaDay('America/Chicago', () => now)
    assert.equal(day.calls, 0)
    day.record()
    day.record()
    now = at('2026-12-04T05:59:00Z')
    day.record()
    assert.equal(day.calls, 3)
    assert.equal(day.since, at('2026-12-03T12:00:00Z'), 'the first day counts from the start')
    now = at('2026-12-04T06:00:00Z')
    assert.equal(day.calls, 0, 'a new quota day')
    assert.equal(day.since, at('2026-12-04T06:00:00Z'))
    day.record()
    now = at('2026-12-05T07:00:00Z')
    day.record()
    assert.equal(day.calls, 1)
    assert.equal(day.since, at('2026-12-05T06:00:00Z'))
    // The 25-hour day when clocks go back: it began at midnight CDT.
    now = at('2026-11-02T05:30:00Z')
    const fall = new QuotaDay('America/Chicago', () => now)
    now = at('2026-11-03T05:30:00Z') // Nov 2, 23:30 CST
    assert.equal(fall.calls, 0)
    assert.equal(fall.since, at('2026-11-02T06:00:00Z'))
  })

  it('MARKETO_QUOTA_TIMEZONE must be a time zone', () => {
    assert.equal(loadConfig({}).marketo.quotaDay.timeZone, 'America/Chicago')
    assert.equal(loadConfig({}).marketo.quotaDay.dailyCalls, 50_000)
    assert.throws(() => loadConfig({ MARKETO_QUOTA_TIMEZONE: 'Mars/Olympus' }), (err: unknown) => err instanceof ConfigError && err.message.includes('MARKETO_QUOTA_TIMEZONE'))
  })
})

describe('budget metrics on a live gateway', () => {
  let gw: TestGateway
  const env = {
    AUTH_DISABLED: 'i-understand-the-risk',
    MARKETO_MAX_CONCURRENCY: '7',
    MARKETO_RATE_LIMIT_CALLS: '50',
    // An hour: every call of this test stays in the window however slow the machine.
    MARKETO_RATE_LIMIT_WINDOW_MS: '3600000',
    MARKETO_DAILY_QUOTA: '1234',
    MARKETO_QUOTA_RESET_MS: '600000',
    MARKETO_MAX_ATTEMPTS: '1'
  }
  before(async () => { gw = await startGateway({ env }) })
  after(async () => { await gw.close() })

  const scrape = async (): Promise<string> => (await request(`${gw.url}/metrics`, { auth: false })).text
  const insert = async (name: string) => request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ name }] } })

  it('exports the limits it runs with', async () => {
    const text = await scrape()
    assert.equal(sample(text, 'marketo_limiter_concurrency_limit'), 7)
    assert.equal(sample(text, 'marketo_limiter_window_limit_calls'), 50)
    assert.equal(sample(text, 'marketo_limiter_window_seconds'), 3600)
    assert.equal(sample(text, 'marketo_quota_daily_limit'), 1234)
    const reset = sample(text, 'marketo_quota_reset_timestamp_seconds') ?? 0
    const now = Date.now() / 1000
    assert.ok(reset > now && reset <= now + 25 * 3600, `reset ${reset} within a day`)
    const since = sample(text, 'marketo_quota_counted_since_timestamp_seconds') ?? 0
    assert.ok(since > 0 && since <= now, 'counting began at the start')
  })

  it('a call takes one from the rolling window and one from the quota day', async () => {
    const before = await scrape()
    assert.equal((await insert('budget-1')).status, 200)
    const after = await scrape()
    assert.equal(sample(after, 'marketo_limiter_window_remaining_calls'), (sample(before, 'marketo_limiter_window_remaining_calls') ?? 0) - 1)
    assert.equal(sample(after, 'marketo_quota_calls_today'), (sample(before, 'marketo_quota_calls_today') ?? 0) + 1)
    assert.ok((sample(after, 'marketo_limiter_window_remaining_calls') ?? 0) < 50)
  })

  it('shows a call in flight against the concurrency limit while Marketo is slow', async () => {
    gw.sim.knobs.enqueue({ latencyMs: 3_000 })
    const pending = insert('budget-slow')
    let inFlight = 0
    // Until the scrape sees the call (it stays in flight for the simulator's latency).
    while (inFlight === 0) {
      inFlight = sample(await scrape(), 'marketo_limiter_in_flight') ?? 0
      if (inFlight === 0) await sleep(20)
    }
    assert.equal(inFlight, 1)
    assert.equal((await pending).status, 200)
    assert.equal(sample(await scrape(), 'marketo_limiter_in_flight'), 0)
  })

  it('after 20015, shows the quota blocked and until when', async () => {
    assert.equal(sample(await scrape(), 'marketo_quota_blocked'), 0)
    assert.equal(sample(await scrape(), 'marketo_quota_blocked_until_timestamp_seconds'), 0)
    gw.sim.knobs.enqueue({ fault: 20015 })
    const t0 = Math.floor(Date.now() / 1000)
    const res = await insert('budget-quota')
    const t1 = Math.ceil(Date.now() / 1000)
    assert.equal(res.body.upstreamCode, 20015, res.text)
    const text = await scrape()
    assert.equal(sample(text, 'marketo_quota_blocked'), 1)
    const until = sample(text, 'marketo_quota_blocked_until_timestamp_seconds') ?? 0
    assert.ok(until >= t0 + 600 - 1 && until <= t1 + 600, `blocked until ${until}, MARKETO_QUOTA_RESET_MS after the fault`)
  })
})

describe('budget metrics with the rolling window off', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ env: { AUTH_DISABLED: 'i-understand-the-risk', MARKETO_RATE_LIMIT_WINDOW_MS: '0' } }) })
  after(async () => { await gw.close() })

  it('exports no window series (nothing to run out of), the rest as usual', async () => {
    const text = (await request(`${gw.url}/metrics`, { auth: false })).text
    assert.equal(sample(text, 'marketo_limiter_window_remaining_calls'), undefined)
    assert.equal(sample(text, 'marketo_limiter_window_limit_calls'), undefined)
    assert.equal(sample(text, 'marketo_limiter_concurrency_limit'), 10)
    assert.equal(sample(text, 'marketo_quota_calls_today'), 0)
  })
})
