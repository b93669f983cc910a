import { setTimeout as sleep } from 'node:timers/promises'
import { GatewayError } from '../domain/errors.js'
import { retryDelay, type CallPolicyOptions } from './state/retry-policy.js'
import type { CallSlot } from './state/admission.js'
import type { PreparedCall } from './backend.js'
import type { CallHints } from './transport.js'

export interface CallLog {
  debug (obj: object, msg: string): void
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

export type CallEvent = { operation: string, objects: number, outcome: string, upstreamCode?: number, durationMs: number }

/** The span of one attempt (src/http/plugins/tracing.ts); only when tracing is configured. */
export interface CallSpan {
  /** W3C traceparent naming this span: sent with every HTTP request of the attempt. */
  readonly traceparent: string
  end (outcome: string, upstreamCode?: number): void
}

export interface CallTracer {
  start (call: { operation: string, objects: number }, attempt: number): CallSpan
}

export interface CallExecutorOptions extends CallPolicyOptions {
  /** The active backend's classification of every failure (retry class, sent, quota, code). */
  classify: (err: unknown) => GatewayError
  /** Every attempt, for the upstream metrics. */
  onCall?: (event: CallEvent) => void
  /**
   * Whose share of the shared call gate every attempt uses (REDIS_URL): undefined for interactive
   * requests, 'bulk' for the executor of bulk jobs (JOB_BUDGET_SHARE).
   */
  trafficClass?: string
}

/**
 * The one way any Marketo call goes out, for every operation: each attempt is admitted (deadline,
 * quota, circuit, call gate), counted in the process's one retry budget and reported to the
 * metrics; failures are retried only by the backend's classification, inside the deadline.
 */
export class CallExecutor {
  private readonly random: () => number
  private readonly now: () => number
  // Undefined unless tracing is configured: then each attempt costs one property check.
  private tracer: CallTracer | undefined

  constructor (private readonly opts: CallExecutorOptions) {
    this.random = opts.random ?? Math.random
    this.now = opts.now ?? Date.now
  }

  /** Called once at build time when tracing is configured (src/app.ts). */
  setTracer (tracer: CallTracer): void { this.tracer = tracer }

  get minCallMs (): number { return this.opts.admission.minCallMs }

  /** Everything that must hold before a call may start: deadline, quota, circuit, call gate. */
  acquireSlot (deadline: number): Promise<CallSlot> {
    return this.opts.admission.acquire(deadline, this.opts.trafficClass)
  }

  /**
   * The parsed answer, or the final GatewayError thrown. `preacquired`: a slot already taken with
   * acquireSlot, used by the first attempt (the coalescer keeps its batch open while it waits).
   */
  async execute<T> (call: PreparedCall<T>, deadline: number, log: CallLog, preacquired?: CallSlot): Promise<T> {
    let resigned = false
    let everSent = false
    for (let attempt = 1; ; attempt++) {
      let error: GatewayError
      const answer: { upstreamRequestId?: string } = {}
      try {
        const slot = preacquired ?? await this.acquireSlot(deadline)
        preacquired = undefined
        return await this.once(call, slot, attempt, answer)
      } catch (err) {
        error = this.opts.classify(err)
      } finally {
        preacquired?.abandon()
        preacquired = undefined
      }
      if (error.sent) everSent = true
      // Marketo Support identifies a call by its requestId: every failed call's log line has it.
      const upstreamRequestId = error.upstreamRequestId ?? answer.upstreamRequestId
      const delay = await retryDelay(error, { attempt, maxAttempts: this.opts.maxAttempts, idempotent: call.idempotent, resigned, deadline, minCallMs: this.opts.admission.minCallMs, backoffBaseMs: this.opts.backoffBaseMs, backoffMaxMs: this.opts.backoffMaxMs, budget: this.opts.budget, now: this.now, random: this.random })
      if (delay === undefined) {
        log.info({ operation: call.operation, attempt, code: error.code, upstreamCode: error.upstreamCode, upstreamRequestId, sent: error.sent }, 'Marketo call failed')
        // An earlier attempt may have been applied: the outcome stays unknown.
        if (everSent && !error.sent) {
          throw new GatewayError(error.code, error.message, { cause: error, upstreamCode: error.upstreamCode, retryAfterMs: error.retryAfterMs, sent: true, upstreamRequestId: error.upstreamRequestId })
        }
        throw error
      }
      if (error.retry === 'resign' || error.retry === 'reauth') resigned = true
      log.info({ operation: call.operation, attempt, code: error.code, upstreamCode: error.upstreamCode, upstreamRequestId, sent: error.sent, delayMs: delay }, 'Marketo call failed, retrying')
      if (delay > 0) await sleep(delay)
    }
  }

  private async once<T> (call: PreparedCall<T>, slot: CallSlot, attempt: number, answer: { upstreamRequestId?: string }): Promise<T> {
    const started = this.now()
    const hints: CallHints = { deadline: slot.callDeadline, progress: { sent: false } }
    const span = this.tracer?.start(call, attempt)
    if (span !== undefined) hints.traceparent = span.traceparent
    this.opts.budget.recordCall()
    let parsed: T
    try {
      parsed = call.parse(await call.send(hints))
    } catch (err) {
      answer.upstreamRequestId = hints.upstreamRequestId
      const error = this.opts.classify(err)
      // What Marketo answered (a fault, an error code, a quota) is learnt from the answer itself;
      // only transport trouble counts against the breaker.
      slot.end(error)
      this.report(call, error.code === 'UPSTREAM_PROTOCOL_ERROR' ? 'protocol_error' : error.code, started, span, error.upstreamCode)
      throw error
    }
    slot.end()
    this.report(call, 'ok', started, span)
    return parsed
  }

  private report<T> (call: PreparedCall<T>, outcome: string, started: number, span: CallSpan | undefined, upstreamCode?: number): void {
    span?.end(outcome, upstreamCode)
    this.opts.onCall?.({ operation: call.operation, objects: call.objects, outcome, upstreamCode, durationMs: this.now() - started })
  }
}
