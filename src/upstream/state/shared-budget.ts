import { GatewayError } from '../../domain/errors.js'
import type { Limiter } from './limiter.js'
import { RedisUnavailableError, type CallBudget, type RedisCallGate } from './redis/call-gate.js'
import type { RedisHealth } from './redis/health.js'

export interface SharedCallBudgetOptions {
  /** The budget every replica shares (constructed with failFast). */
  gate: RedisCallGate
  /**
   * This replica's share of Marketo's limits (the limits ÷ MARKETO_REPLICAS), used while Redis is
   * unreachable: the replicas together then stay inside the limits without talking to each other.
   */
  local: Limiter
  health: RedisHealth
  now?: () => number
  onError?: (err: Error) => void
}

/**
 * The call budget with REDIS_URL: the shared gate while Redis answers, this replica's local share
 * while it does not, and in both cases the pause Marketo asked for (20023 / 20024, REST 606 / 615)
 * learnt by this replica. A Redis that fails mid-wait costs one command timeout, then the local
 * share serves the call; nothing waits for Redis past the caller's deadline.
 *
 * At the switch, calls the replicas made through the shared gate in the current window are not
 * known to the local shares, so Marketo may refuse a few calls in that one window; its 20023 /
 * 20024 then pauses this replica (the cool-down), and the retry policy re-sends what was not
 * applied (README, "Running several replicas").
 */
export class SharedCallBudget implements CallBudget {
  private coolUntil = 0
  private readonly now: () => number

  constructor (private readonly opts: SharedCallBudgetOptions) {
    this.now = opts.now ?? Date.now
  }

  /** Which budget new calls use now. */
  get mode (): 'shared' | 'local' { return this.opts.health.available ? 'shared' : 'local' }
  get inFlight (): number { return this.opts.gate.inFlight + this.opts.local.inFlight }
  get queueDepth (): number { return this.opts.gate.queueDepth + this.opts.local.queueDepth }

  estimatedWaitMs (): number {
    const cool = Math.max(0, this.coolUntil - this.now())
    return Math.max(cool, this.mode === 'shared' ? this.opts.gate.estimatedWaitMs() : this.opts.local.estimatedWaitMs())
  }

  async acquire (latestStart: number, trafficClass = 'interactive'): Promise<() => void> {
    await this.waitCoolDown(latestStart)
    if (this.opts.health.available) {
      try {
        return await this.opts.gate.acquire(latestStart, trafficClass)
      } catch (err) {
        if (!(err instanceof RedisUnavailableError)) throw err
      }
    }
    return await this.opts.local.acquire(latestStart)
  }

  /** Calls of this traffic class in the current window, across every replica (Redis). */
  async used (trafficClass: string): Promise<number> {
    return await this.opts.gate.used(trafficClass)
  }

  /** Marketo refused a call for its rate or concurrency limit: pause this replica, and every replica through Redis. */
  coolDown (code: number, ms: number): void {
    this.coolUntil = Math.max(this.coolUntil, this.now() + ms)
    if (!this.opts.health.available) return
    this.opts.gate.coolDown(code, ms).catch((err: Error) => {
      this.opts.health.reportError(err)
      this.opts.onError?.(err)
    })
  }

  close (): void {
    this.opts.gate.close()
    this.opts.local.close()
  }

  private async waitCoolDown (latestStart: number): Promise<void> {
    const wait = this.coolUntil - this.now()
    if (wait <= 0) return
    if (this.now() + wait > latestStart) {
      throw new GatewayError('RATE_LIMITED', 'Marketo asked for a pause (rate or concurrency limit) lasting past this request\'s deadline', { retryAfterMs: wait })
    }
    await new Promise((resolve) => setTimeout(resolve, wait))
  }
}
