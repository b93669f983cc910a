import { GatewayError } from '../../domain/errors.js'
import type { Breaker, CallBudget, QuotaGuard } from './interfaces.js'

/** One admitted Marketo call: its own deadline, and what its outcome tells the circuit breaker. */
export interface CallSlot {
  /** When this call must be over: the call timeout, or the request's deadline if that is earlier. */
  readonly callDeadline: number
  /** Ends the call: frees its limiter slot and records its outcome (no error: Marketo answered). */
  end (error?: GatewayError): void
  /** Gives the slot back unused: nothing was sent, nothing is learnt about Marketo. */
  abandon (): void
}

export interface AdmissionOptions {
  /** The call budget: the in-process Limiter, or with REDIS_URL the shared one (SharedCallBudget). */
  limiter: CallBudget
  /** The circuit: the in-process CircuitBreaker by default. */
  breaker: Breaker
  /** The daily quota: the in-process QuotaState, or with REDIS_URL SharedQuotaState. */
  quota: QuotaGuard
  callTimeoutMs: number
  /** A call starts only with at least this much of the request's deadline left (default: the call timeout). */
  minCallMs?: number
  quotaRetryAfterMs: number
  /**
   * Marketo refused a call for its rate or concurrency limit (UPSTREAM_RATE_LIMITED /
   * UPSTREAM_CONCURRENCY_LIMITED): with REDIS_URL every replica pauses (the shared cool-down).
   */
  onLimitFault?: (error: GatewayError) => void
  now?: () => number
}

/**
 * Everything that must hold before any Marketo call may start, for every operation: the request
 * deadline leaves room for a whole call, the daily quota, the circuit, the call budget. A call that
 * starts can therefore always run its full call timeout, so a timeout is Marketo's, never the
 * gateway's own deadline (issue #12); a call that cannot start in time is refused at once, or as
 * soon as the wait for a slot says so, and its objects are not applied.
 */
export class Admission {
  readonly minCallMs: number
  private readonly now: () => number

  constructor (private readonly opts: AdmissionOptions) {
    this.minCallMs = Math.min(opts.minCallMs ?? opts.callTimeoutMs, opts.callTimeoutMs)
    this.now = opts.now ?? Date.now
  }

  /** The latest moment a call of a request with this deadline may start. */
  latestStart (deadline: number): number {
    return deadline - this.minCallMs
  }

  /** trafficClass: whose share of the budget the call uses (shared budget only; 'interactive' by default). */
  async acquire (deadline: number, trafficClass?: string): Promise<CallSlot> {
    const latest = this.latestStart(deadline)
    if (this.now() > latest) throw tooLate()
    await this.opts.quota.check()
    const ticket = await this.opts.breaker.admit()
    let release: () => void
    try {
      // A shared quota or circuit may have answered slowly: a start too late takes no slot.
      if (this.now() > latest) throw tooLate()
      release = trafficClass === undefined ? await this.opts.limiter.acquire(latest) : await this.opts.limiter.acquire(latest, trafficClass)
    } catch (err) {
      // A probe that was never sent tells nothing about Marketo: the next call may probe.
      this.opts.breaker.releaseProbe(ticket)
      throw err
    }
    const started = this.now()
    if (started > latest) {
      release()
      this.opts.breaker.releaseProbe(ticket)
      throw tooLate()
    }
    this.opts.quota.recordCall()
    const callDeadline = Math.min(deadline, started + this.opts.callTimeoutMs)
    const ownDeadline = deadline < started + this.opts.callTimeoutMs
    let ended = false
    return {
      callDeadline,
      abandon: () => {
        if (ended) return
        ended = true
        release()
        this.opts.breaker.releaseProbe(ticket)
      },
      end: (error?: GatewayError) => {
        if (ended) return
        ended = true
        release()
        if (error === undefined) {
          this.opts.breaker.success()
          return
        }
        // The backend classified Marketo's quota answer (20015 on SOAP, 607 on REST).
        if (error.code === 'UPSTREAM_QUOTA_EXCEEDED' && error.upstreamCode !== undefined) this.opts.quota.block(error.upstreamCode, error.retryAfterMs ?? this.opts.quotaRetryAfterMs)
        if ((error.code === 'UPSTREAM_RATE_LIMITED' || error.code === 'UPSTREAM_CONCURRENCY_LIMITED') && error.upstreamCode !== undefined) this.opts.onLimitFault?.(error)
        if (error.upstreamCode !== undefined) {
          // Marketo answered: the transport works.
          this.opts.breaker.success()
        } else if (error.code === 'VALIDATION_FAILED' || (ownDeadline && error.code === 'UPSTREAM_TIMEOUT')) {
          // Nothing about Marketo: refused before sending, or cut short by the gateway's own deadline.
          this.opts.breaker.releaseProbe(ticket)
        } else {
          this.opts.breaker.failure()
        }
      }
    }
  }
}

function tooLate (): GatewayError {
  return new GatewayError('RATE_LIMITED', 'too little of the request deadline is left to start a Marketo call that could finish in time (MARKETO_MIN_CALL_MS)', { retryAfterMs: 1_000, sent: false })
}
