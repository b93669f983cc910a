import { SimulatorFault } from './faults.js'

export interface LimitsConfig {
  maxObjectsPerCall?: number | null
  rateLimit?: { calls: number, windowMs: number } | null
  maxConcurrent?: number | null
  dailyQuota?: number | null
}

export interface ResolvedLimits {
  maxObjectsPerCall: number | null
  rateLimit: { calls: number, windowMs: number } | null
  maxConcurrent: number | null
  dailyQuota: number | null
}

export const MARKETO_LIMITS: ResolvedLimits = {
  maxObjectsPerCall: 100,
  rateLimit: { calls: 100, windowMs: 20_000 },
  maxConcurrent: 10,
  dailyQuota: 10_000
}

export function resolveLimits (base: ResolvedLimits, l?: LimitsConfig | null): ResolvedLimits {
  if (l === null) return { maxObjectsPerCall: null, rateLimit: null, maxConcurrent: null, dailyQuota: null }
  return {
    maxObjectsPerCall: l?.maxObjectsPerCall !== undefined ? l.maxObjectsPerCall : base.maxObjectsPerCall,
    rateLimit: l?.rateLimit !== undefined ? l.rateLimit : base.rateLimit,
    maxConcurrent: l?.maxConcurrent !== undefined ? l.maxConcurrent : base.maxConcurrent,
    dailyQuota: l?.dailyQuota !== undefined ? l.dailyQuota : base.dailyQuota
  }
}

// Marketo's daily quota resets at midnight US Central Standard Time (UTC-6).
function quotaDay (now: Date): string {
  return new Date(now.getTime() - 6 * 3_600_000).toISOString().slice(0, 10)
}

/** Admission control for authenticated calls; a rejected call does not consume rate or quota. */
export class LimitTracker {
  limits: ResolvedLimits
  private admitted = 0
  private recent: number[] = []
  private day = ''
  private usedToday = 0

  constructor (limits: ResolvedLimits) {
    this.limits = limits
  }

  /** Throws the limit fault, or admits the call; the caller must call release() once it is answered. */
  admit (now: Date): void {
    const { maxConcurrent, rateLimit, dailyQuota } = this.limits
    if (maxConcurrent !== null && this.admitted >= maxConcurrent) {
      throw new SimulatorFault(20024, `Concurrency limit exceeded: more than ${maxConcurrent} concurrent calls`)
    }
    const t = now.getTime()
    if (rateLimit !== null) {
      while (this.recent.length > 0 && this.recent[0] <= t - rateLimit.windowMs) this.recent.shift()
      if (this.recent.length >= rateLimit.calls) {
        throw new SimulatorFault(20023, `Rate limit exceeded: more than ${rateLimit.calls} calls in ${rateLimit.windowMs / 1000} seconds`)
      }
    }
    const day = quotaDay(now)
    if (day !== this.day) { this.day = day; this.usedToday = 0 }
    if (dailyQuota !== null && this.usedToday >= dailyQuota) {
      throw new SimulatorFault(20015, `Number of calls today exceeded the subscription quota of ${dailyQuota}`)
    }
    this.admitted++
    if (rateLimit !== null) this.recent.push(t)
    this.usedToday++
  }

  release (): void {
    if (this.admitted > 0) this.admitted--
  }

  get usage (): { concurrent: number, inWindow: number, usedToday: number } {
    return { concurrent: this.admitted, inWindow: this.recent.length, usedToday: this.usedToday }
  }

  resetCounters (): void {
    this.recent = []
    this.usedToday = 0
    this.day = ''
  }
}
