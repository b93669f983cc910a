import type { Redis } from 'ioredis'
import { GatewayError } from '../../../domain/errors.js'
import { LuaScript } from './script.js'

/** Marketo's daily API quota resets at midnight in this zone, whatever the subscription's own zone. */
export const MARKETO_TIME_ZONE = 'America/Chicago'

export interface MarketoDay {
  /** The Marketo day, YYYY-MM-DD in MARKETO_TIME_ZONE. */
  day: string
  /** Epoch ms of the midnight that started it. */
  startsAt: number
  /** Epoch ms of the next midnight: when the quota resets. 23 h or 25 h after startsAt on DST days. */
  resetsAt: number
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function wallClock (epochMs: number, timeZone: string): { y: number, m: number, d: number, h: number, mi: number, s: number } {
  let f = formatters.get(timeZone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    formatters.set(timeZone, f)
  }
  const parts: Record<string, number> = {}
  for (const p of f.formatToParts(new Date(epochMs))) if (p.type !== 'literal') parts[p.type] = Number(p.value)
  return { y: parts.year, m: parts.month, d: parts.day, h: parts.hour, mi: parts.minute, s: parts.second }
}

// The zone's offset from UTC at an instant (ms; negative west of Greenwich).
function offsetMs (epochMs: number, timeZone: string): number {
  const w = wallClock(epochMs, timeZone)
  return Date.UTC(w.y, w.m - 1, w.d, w.h, w.mi, w.s) - Math.floor(epochMs / 1000) * 1000
}

// Midnight of a calendar date in the zone. US DST changes at 02:00, so midnight always exists
// once; the second pass corrects a first guess taken with the other side's offset.
function midnight (y: number, m: number, d: number, timeZone: string): number {
  const utc = Date.UTC(y, m - 1, d)
  const first = utc - offsetMs(utc, timeZone)
  return utc - offsetMs(first, timeZone)
}

/**
 * The Marketo day an instant belongs to, computed with Intl so daylight saving time needs no
 * table of ours: the quota day is 23 h long in March and 25 h in November.
 */
export function marketoDay (epochMs: number, timeZone = MARKETO_TIME_ZONE): MarketoDay {
  const w = wallClock(epochMs, timeZone)
  const next = new Date(Date.UTC(w.y, w.m - 1, w.d + 1))
  const pad = (n: number): string => String(n).padStart(2, '0')
  return {
    day: `${w.y}-${pad(w.m)}-${pad(w.d)}`,
    startsAt: midnight(w.y, w.m, w.d, timeZone),
    resetsAt: midnight(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), timeZone)
  }
}

export interface SharedQuotaOptions {
  redis: Redis
  /** Key namespace, one per Marketo subscription. Default 'mkto'. */
  prefix?: string
  timeZone?: string
  now?: () => number
}

export interface QuotaStatus {
  blocked: boolean
  /** The Marketo code that set the flag (20015 SOAP, 607 REST); 20015 when not blocked. */
  code: number
  /** Until the flag expires (0 when not blocked). */
  retryAfterMs: number
}

// KEYS: day counter. ARGV: calls, ms until the counter may go (a day after the reset, for metrics).
const COUNT = new LuaScript(`local n = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
`, 1)

// KEYS: flag. ARGV: code, ms. A replica never shortens a flag another one set for longer.
const BLOCK = new LuaScript(`if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return redis.call('PTTL', KEYS[1])
`, 1)

// KEYS: flag. Returns {code or false, pttl} in one round trip.
const STATUS = new LuaScript(`return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
`, 1)

/**
 * Marketo's daily quota as every replica knows it: the QuotaState of src/upstream/state/quota-state.ts,
 * shared and asynchronous. After one replica sees 20015 / 607 the others fail fast too, until the
 * quota resets at midnight US Central time (not an hour later, not a replica restart later). The
 * calls of the Marketo day are counted, so the quota use can be watched and, later, enforced
 * before Marketo has to refuse.
 *
 * The day boundary comes from this replica's clock (a few ms of skew at midnight do not matter);
 * the flag's lifetime is handed to Redis as a duration, so Redis's clock ends it.
 */
export class SharedQuota {
  private readonly redis: Redis
  private readonly prefix: string
  private readonly timeZone: string
  private readonly now: () => number

  constructor (opts: SharedQuotaOptions) {
    this.redis = opts.redis
    this.prefix = `${opts.prefix ?? 'mkto'}:quota`
    this.timeZone = opts.timeZone ?? MARKETO_TIME_ZONE
    this.now = opts.now ?? Date.now
  }

  /** The Redis key of a day's counter (tests, operations). */
  counterKey (day: string): string { return `${this.prefix}:count:${day}` }
  get flagKey (): string { return `${this.prefix}:exhausted` }

  /** Counts calls made now against today's quota; returns today's total across replicas. */
  async count (calls = 1): Promise<number> {
    const now = this.now()
    const day = marketoDay(now, this.timeZone)
    return Number(await COUNT.run(this.redis, [this.counterKey(day.day)], [calls, day.resetsAt - now + 86_400_000]))
  }

  /** Today's total so far. */
  async used (): Promise<number> {
    return Number(await this.redis.get(this.counterKey(marketoDay(this.now(), this.timeZone).day)) ?? 0)
  }

  /**
   * Marks the quota exhausted after Marketo said so, until the next reset; ms (e.g.
   * MARKETO_QUOTA_RESET_MS) shortens that, never lengthens it past the reset.
   */
  async block (code: number, ms?: number): Promise<void> {
    const now = this.now()
    const untilReset = marketoDay(now, this.timeZone).resetsAt - now
    const duration = Math.max(1, Math.ceil(ms === undefined ? untilReset : Math.min(ms, untilReset)))
    await BLOCK.run(this.redis, [this.flagKey], [code, duration])
  }

  async status (): Promise<QuotaStatus> {
    const [code, pttl] = await STATUS.run(this.redis, [this.flagKey], []) as [string | null, number]
    if (code === null || pttl <= 0) return { blocked: false, code: 20015, retryAfterMs: 0 }
    return { blocked: true, code: Number(code), retryAfterMs: pttl }
  }

  async blocked (): Promise<boolean> {
    return (await this.status()).blocked
  }

  async error (): Promise<GatewayError> {
    return quotaError(await this.status())
  }
}

/** The same error QuotaState.error() gives. */
export function quotaError (s: QuotaStatus): GatewayError {
  return new GatewayError('UPSTREAM_QUOTA_EXCEEDED', `Marketo daily API quota exceeded (${s.code})`, { upstreamCode: s.code, retryAfterMs: Math.max(0, s.retryAfterMs) })
}
