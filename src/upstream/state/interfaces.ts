// The upstream state every Marketo call consults, one small interface per concern (issue #13).
// Admission, the retry policy and the executor see only these; the in-process classes are the
// default and a shared (Redis) implementation can replace any of them.
//
// The rule for every interface: a decision a call has to wait for (may it start, may it be
// retried) returns a Promise, so a shared implementation can ask Redis. Reports of what happened
// (an outcome, a started call, a quota fault) return void: nobody waits for them; an
// implementation applies them to what this process knows at once and writes them through in the
// background, handling its own errors, as the call gate's release does. Getters are the last known
// state, synchronous for the metrics collectors and /readyz, never consulted to admit a call.

/** What Admission takes call slots from: the in-process Limiter, or the shared call gate. */
export interface CallBudget {
  /** Resolves with the slot's release function, or rejects RATE_LIMITED / QUEUE_FULL / SHUTTING_DOWN. */
  acquire (latestStart: number, trafficClass?: string): Promise<() => void>
  estimatedWaitMs (): number
  readonly inFlight: number
  readonly queueDepth: number
  close (): void
}

export type BreakerState = 'closed' | 'open' | 'half_open'

/** The circuit: after repeated transport failures calls fail fast, then one probe tests Marketo. */
export interface Breaker {
  /**
   * Resolves with a probe ticket (> 0) when this call is the half-open probe, 0 otherwise; rejects
   * UPSTREAM_CIRCUIT_OPEN when the call must not go out. Whoever gets a ticket must end it:
   * success(), failure(), or releaseProbe(ticket) when the call was never sent.
   */
  admit (): Promise<number>
  /** Marketo answered (also with an error code): the transport works. */
  success (): void
  /** A transport failure. */
  failure (): void
  /** The probe with this ticket told nothing about Marketo: the next call may probe. 0 is a no-op. */
  releaseProbe (ticket: number): void
  /** Last known state, for metrics and /readyz. */
  readonly state: BreakerState
}

/** Marketo's daily quota: after 20015 (SOAP) or 607 (REST), calls fail fast until it resets. */
export interface QuotaGuard {
  /** Resolves when a call may go out; rejects UPSTREAM_QUOTA_EXCEEDED while the quota is used up. */
  check (): Promise<void>
  /** Marketo said the quota is used up (code 20015 or 607): calls fail fast for ms. */
  block (code: number, ms: number): void
  /** A call was admitted (a shared quota counts them). */
  recordCall (): void
  /** Last known: calls fail fast now. For metrics. */
  readonly blocked: boolean
  /** Last known: until when calls fail fast (ms since the epoch), 0 when they do not. For metrics. */
  readonly blockedUntil: number
}

/** Retries may use only a share of recent calls, so an outage does not multiply the load on Marketo. */
export interface RetryAllowance {
  /** An attempt is about to be sent. */
  recordCall (): void
  /** Resolves true, and counts the retry, when one more retry fits the budget. */
  tryRetry (): Promise<boolean>
}
