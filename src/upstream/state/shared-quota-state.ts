import { QuotaState } from './quota-state.js'
import type { SharedQuota } from './redis/quota.js'
import type { RedisHealth } from './redis/health.js'

export interface SharedQuotaStateOptions {
  quota: SharedQuota
  health: RedisHealth
  /** How often the shared flag is read and the counted calls are written. Default 1,000 ms. */
  syncMs?: number
  now?: () => number
  onError?: (err: Error) => void
}

/**
 * QuotaState for several replicas. check() still answers without a Redis round trip per call
 * (the quota interface would allow one; a flag that changes once a day is not worth one per call):
 * the answer is this replica's own knowledge merged with the shared flag, read every syncMs. So after one replica sees 20015 / 607, the others fail fast within about a second, until
 * the quota resets (SharedQuota: midnight US Central). The calls of the Marketo day are counted in
 * Redis in batches, for the quota metrics of every replica together.
 */
export class SharedQuotaState extends QuotaState {
  private pending = 0
  private readonly timer: NodeJS.Timeout

  constructor (private readonly opts: SharedQuotaStateOptions) {
    super(opts.now)
    this.timer = setInterval(() => { this.sync().catch(() => {}) }, opts.syncMs ?? 1_000)
    this.timer.unref()
  }

  override block (code: number, ms: number): void {
    super.block(code, ms)
    if (!this.opts.health.available) return
    this.opts.quota.block(code, ms).catch((err: Error) => this.fail(err))
  }

  /** One Marketo call started (counted in Redis at the next sync). */
  override recordCall (): void {
    this.pending++
  }

  /** Reads the shared flag and writes the calls counted since the last sync. */
  async sync (): Promise<void> {
    if (!this.opts.health.available) return
    try {
      const calls = this.pending
      this.pending = 0
      if (calls > 0) {
        await this.opts.quota.count(calls).catch((err: Error) => {
          this.pending += calls
          throw err
        })
      }
      const s = await this.opts.quota.status()
      if (s.blocked && this.now() + s.retryAfterMs > this.blockedUntil) super.block(s.code, s.retryAfterMs)
    } catch (err) {
      this.fail(err as Error)
    }
  }

  close (): void { clearInterval(this.timer) }

  private fail (err: Error): void {
    this.opts.health.reportError(err)
    this.opts.onError?.(err)
  }
}
