import { GatewayError } from '../errors.js'

export type BreakerState = 'closed' | 'open' | 'half_open'

export interface BreakerOptions {
  failureThreshold: number
  openMs: number
  now?: () => number
}

// Opens after N consecutive transport failures; while open, calls fail fast; after openMs one
// probe is let through (half-open) and its outcome closes or re-opens the circuit.
export class CircuitBreaker {
  private failures = 0
  private openedAt = 0
  private probing = false
  state: BreakerState = 'closed'
  private readonly now: () => number

  constructor (private readonly opts: BreakerOptions) {
    this.now = opts.now ?? Date.now
  }

  // Throws when the call must not go out; returns whether this call is the half-open probe.
  admit (): void {
    if (this.state === 'closed') return
    const remaining = this.openedAt + this.opts.openMs - this.now()
    if (this.state === 'open' && remaining <= 0) {
      this.state = 'half_open'
      this.probing = false
    }
    if (this.state === 'half_open' && !this.probing) {
      this.probing = true
      return
    }
    throw new GatewayError('UPSTREAM_CIRCUIT_OPEN', 'Marketo calls are suspended after repeated transport failures', { retryAfterMs: Math.max(remaining, 100) })
  }

  success (): void {
    this.failures = 0
    this.probing = false
    this.state = 'closed'
  }

  failure (): void {
    this.failures++
    if (this.state === 'half_open' || this.failures >= this.opts.failureThreshold) {
      this.state = 'open'
      this.openedAt = this.now()
      this.probing = false
    }
  }

  // A call that ended without telling anything about the transport (e.g. cancelled locally).
  neutral (): void {
    if (this.state === 'half_open') this.probing = false
  }
}

// Retries may use at most `ratio` of recent calls (plus a small floor), so an outage does not
// multiply the load on Marketo.
export class RetryBudget {
  private calls: number[] = []
  private retries: number[] = []
  private readonly now: () => number

  constructor (private readonly opts: { ratio: number, minPerWindow: number, windowMs: number, now?: () => number }) {
    this.now = opts.now ?? Date.now
  }

  private prune (): void {
    const horizon = this.now() - this.opts.windowMs
    this.calls = this.calls.filter((t) => t > horizon)
    this.retries = this.retries.filter((t) => t > horizon)
  }

  recordCall (): void {
    this.calls.push(this.now())
  }

  tryRetry (): boolean {
    this.prune()
    const allowed = Math.max(this.opts.minPerWindow, Math.floor(this.calls.length * this.opts.ratio))
    if (this.retries.length >= allowed) return false
    this.retries.push(this.now())
    return true
  }
}
