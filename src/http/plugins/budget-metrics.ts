import fp from 'fastify-plugin'
import { Gauge } from 'prom-client'

/** The wall-clock date (yyyy-mm-dd) and time of day in a time zone. */
function zoned (t: number, format: Intl.DateTimeFormat): { y: number, m: number, d: number, h: number, mi: number, s: number } {
  const parts: Record<string, number> = {}
  for (const p of format.formatToParts(new Date(t))) if (p.type !== 'literal') parts[p.type] = Number(p.value)
  return { y: parts.year, m: parts.month, d: parts.day, h: parts.hour, mi: parts.minute, s: parts.second }
}

/**
 * Marketo's quota day: it starts at midnight in `timeZone` (12:00 AM US Central for Marketo). Counts
 * the Marketo calls this process made in the current quota day; a process started during the day
 * counts from its start (`since`), so with several replicas the day's use is the sum of theirs.
 */
export class QuotaDay {
  private readonly format: Intl.DateTimeFormat
  private day = ''
  private count = 0
  private start = 0

  constructor (timeZone: string, private readonly now: () => number = Date.now) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' })
    this.roll()
  }

  private key (t: number): string {
    const z = zoned(t, this.format)
    return `${z.y}-${z.m}-${z.d}`
  }

  private roll (): void {
    const t = this.now()
    const day = this.key(t)
    if (day === this.day) return
    // The first day starts when the process does; later ones at their midnight (a day before,
    // or 25 hours before on the day a DST change makes 25 hours long).
    if (this.day === '') this.start = t
    else {
      this.start = this.resetAfter(t - 86_400_000)
      if (this.start > t) this.start = this.resetAfter(t - 90_000_000)
    }
    this.day = day
    this.count = 0
  }

  // The first midnight after t (in the zone).
  private resetAfter (t: number): number {
    const z = zoned(t, this.format)
    const offset = Date.UTC(z.y, z.m - 1, z.d, z.h, z.mi, z.s) - Math.floor(t / 1000) * 1000
    const midnight = Date.UTC(z.y, z.m - 1, z.d + 1)
    let reset = midnight - offset
    // The offset at midnight may differ from the one at t (a DST change that day).
    const r = zoned(reset, this.format)
    reset = midnight - (Date.UTC(r.y, r.m - 1, r.d, r.h, r.mi, r.s) - Math.floor(reset / 1000) * 1000)
    return reset
  }

  /** One Marketo call made now. */
  record (): void {
    this.roll()
    this.count++
  }

  /** Calls counted in the current quota day (since `since`). */
  get calls (): number {
    this.roll()
    return this.count
  }

  /** When counting of the current quota day began: its midnight, or the process start that day. */
  get since (): number {
    this.roll()
    return this.start
  }

  /** When the quota resets next (ms since the epoch). */
  get nextReset (): number {
    return this.resetAfter(this.now())
  }
}

export interface BudgetMetricsOptions {
  dailyCalls: number
  timeZone: string
  now?: () => number
}

/**
 * The Marketo budget, visible (issue #17): what is left of the rolling window, concurrency in use
 * against its cap, the quota day's calls against the daily quota and the time to its reset, and
 * whether 20015/607 blocks calls. Read live at scrape time from the MarketoRuntime; the quota day
 * counts every Marketo call the metrics plugin records.
 */
export default fp<BudgetMetricsOptions>(async function budgetMetricsPlugin (app, opts) {
  const registers = [app.metrics.registry]
  const { limiter, quota } = app.marketo
  const day = new QuotaDay(opts.timeZone, opts.now)
  app.metrics.callListeners.push(() => day.record())
  const seconds = (ms: number): number => Math.floor(ms / 1000)
  const window = limiter.window
  /* eslint-disable no-new */
  new Gauge({ name: 'marketo_limiter_concurrency_limit', help: 'Marketo calls allowed in flight at once from this process (MARKETO_MAX_CONCURRENCY); compare marketo_limiter_in_flight', registers, collect () { this.set(limiter.maxConcurrent) } })
  if (window !== null) {
    new Gauge({ name: 'marketo_limiter_window_limit_calls', help: 'Marketo calls allowed per rolling window from this process (MARKETO_RATE_LIMIT_CALLS)', registers, collect () { this.set(window.calls) } })
    new Gauge({ name: 'marketo_limiter_window_seconds', help: 'Length of the rolling call window (MARKETO_RATE_LIMIT_WINDOW_MS)', registers, collect () { this.set(window.windowMs / 1000) } })
    new Gauge({ name: 'marketo_limiter_window_remaining_calls', help: 'Marketo calls that may still start in the current rolling window', registers, collect () { this.set(limiter.windowRemaining ?? 0) } })
  }
  new Gauge({ name: 'marketo_quota_calls_today', help: 'Marketo calls this process made in the current quota day (since its midnight in MARKETO_QUOTA_TIMEZONE, or since the process started if later); sum over replicas', registers, collect () { this.set(day.calls) } })
  new Gauge({ name: 'marketo_quota_counted_since_timestamp_seconds', help: 'When marketo_quota_calls_today began counting: the quota day\'s midnight or the process start (Unix time)', registers, collect () { this.set(seconds(day.since)) } })
  new Gauge({ name: 'marketo_quota_daily_limit', help: 'The subscription\'s daily Marketo API quota, shared by every replica (MARKETO_DAILY_QUOTA)', registers, collect () { this.set(opts.dailyCalls) } })
  new Gauge({ name: 'marketo_quota_reset_timestamp_seconds', help: 'When the daily quota resets next: midnight in MARKETO_QUOTA_TIMEZONE (Unix time)', registers, collect () { this.set(seconds(day.nextReset)) } })
  new Gauge({ name: 'marketo_quota_blocked', help: '1 while calls fail fast after Marketo answered 20015/607 (daily quota exceeded), else 0', registers, collect () { this.set(quota.blocked ? 1 : 0) } })
  new Gauge({ name: 'marketo_quota_blocked_until_timestamp_seconds', help: 'Until when calls fail fast after 20015/607 (MARKETO_QUOTA_RESET_MS after the fault; Unix time), 0 when they do not', registers, collect () { this.set(seconds(quota.blockedUntil)) } })
  /* eslint-enable no-new */
}, { name: 'budget-metrics', dependencies: ['metrics', 'marketo'] })
