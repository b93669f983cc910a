import { GatewayError } from '../../domain/errors.js'
import type { Breaker, BreakerState, RetryAllowance } from './interfaces.js'

export type { BreakerState } from './interfaces.js'

// Settled answers shared by every call: the in-process state knows them at once.
const NO_PROBE = Promise.resolve(0)
const ALLOWED = Promise.resolve(true)
const DENIED = Promise.resolve(false)

export interface BreakerOptions {
  failureThreshold: number
  openMs: number
  now?: () => number
}

// Opens after N consecutive transport failures; while open, calls fail fast; after openMs one
// probe is let through (half-open) and its outcome closes or re-opens the circuit.
export class CircuitBreaker implements Breaker {
  private failures = 0
  private openedAt = 0
  private probing = 0
  private tickets = 0
  state: BreakerState = 'closed'
  private readonly now: () => number

  constructor (private readonly opts: BreakerOptions) {
    this.now = opts.now ?? Date.now
  }

  // Rejects when the call must not go out; resolves a probe ticket (> 0) when this call is the
  // half-open probe, 0 otherwise. Whoever gets a ticket must end it: success(), failure(), or
  // releaseProbe(ticket) when the call was never sent (issue #12: a probe refused by the limiter
  // used to keep the circuit half-open for good).
  admit (): Promise<number> {
    if (this.state === 'closed') return NO_PROBE
    const remaining = this.openedAt + this.opts.openMs - this.now()
    if (this.state === 'open' && remaining <= 0) {
      this.state = 'half_open'
      this.probing = 0
    }
    if (this.state === 'half_open' && this.probing === 0) {
      this.probing = ++this.tickets
      return Promise.resolve(this.probing)
    }
    return Promise.reject(new GatewayError('UPSTREAM_CIRCUIT_OPEN', 'Marketo calls are suspended after repeated transport failures', { retryAfterMs: Math.max(remaining, 100) }))
  }

  success (): void {
    this.failures = 0
    this.probing = 0
    this.state = 'closed'
  }

  failure (): void {
    this.failures++
    if (this.state === 'half_open' || this.failures >= this.opts.failureThreshold) {
      this.state = 'open'
      this.openedAt = this.now()
      this.probing = 0
    }
  }

  // The probe with this ticket ended without telling anything about Marketo (never sent, or cut
  // short by the gateway's own deadline): the next call may probe.
  releaseProbe (ticket: number): void {
    if (ticket !== 0 && this.probing === ticket) this.probing = 0
  }

  // True while a half-open circuit waits for its probe's answer.
  get probeInFlight (): boolean { return this.probing !== 0 }
}

// Retries may use at most `ratio` of recent calls (plus a small floor), so an outage does not
// multiply the load on Marketo.
export class RetryBudget implements RetryAllowance {
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

  tryRetry (): Promise<boolean> {
    this.prune()
    const allowed = Math.max(this.opts.minPerWindow, Math.floor(this.calls.length * this.opts.ratio))
    if (this.retries.length >= allowed) return DENIED
    this.retries.push(this.now())
    return ALLOWED
  }
}
