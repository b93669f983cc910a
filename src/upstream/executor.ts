import { setTimeout as sleep } from 'node:timers/promises'
import { GatewayError } from '../domain/errors.js'
import { toGatewayError } from '../backends/soap/faults.js'
import { retryDelay, type CallPolicyOptions } from './state/retry-policy.js'
import type { CallSlot } from './state/admission.js'
import type { CallHints } from '../backends/soap/http-transport.js'
import type { MObject, MObjStatus, SyncOperation } from '../backends/soap/types.js'

/** One Marketo call of a sync batch: the objects it carries (by index into the batch) and how to send it. */
export interface SyncCall {
  indexes: number[]
  objects: MObject[]
  /** One status per object of this call, in order. */
  send: (hints: CallHints) => Promise<MObjStatus[]>
}

/** How a backend carries a batch: the calls, in the order they must go out, and statuses decided locally. */
export interface SyncCallPlan {
  calls: SyncCall[]
  local: Map<number, MObjStatus>
}

// What differs per backend: how a batch becomes Marketo calls (SOAP: one syncMObjects; REST: one
// call per endpoint and dedupe mode, one per program). Each call is admitted, retried and counted
// on its own, so a retry re-sends only a call that was not applied.
export interface SyncBackend {
  planSync (operation: SyncOperation, objects: MObject[]): SyncCallPlan
}

export interface CallLog {
  debug (obj: object, msg: string): void
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

export type CallEvent = { operation: string, objects: number, outcome: string, upstreamCode?: number, durationMs: number }

export interface ExecutorOptions extends CallPolicyOptions {
  backend: SyncBackend
  onCall?: (event: CallEvent) => void
}

/** What a batch got: per object, its status from the call that carried it, or that call's error. */
export interface CallOutcome {
  calls: number
  results: Array<MObjStatus | GatewayError>
  /** The first call-level failure, in call order. */
  error?: GatewayError
}

// Only a call that can be repeated without changing its effect may be re-sent after an unknown
// outcome: UPDATE of objects named by id, without cost lines that would be appended again.
export function isIdempotent (operation: SyncOperation, objects: MObject[]): boolean {
  if (operation !== 'UPDATE') return false
  return objects.every((o) => o.id !== undefined &&
    (o.typeAttribs ?? []).every((t) => t.attrType !== 'Cost' || t.attribs.some((a) => a.name === 'Id')))
}

export function checkStatuses (objects: MObject[], statuses: MObjStatus[]): string | undefined {
  if (statuses.length !== objects.length) return `expected ${objects.length} statuses, got ${statuses.length}`
  for (let i = 0; i < objects.length; i++) {
    const o = objects[i]
    const s = statuses[i]
    if (o.id !== undefined && s.id !== null && s.id !== o.id) return `status ${i} names id ${s.id}, object ${i} was sent with id ${o.id}`
    if (o.externalKey !== undefined && s.externalKey !== undefined && s.externalKey.value !== o.externalKey.value) return `status ${i} names another external key`
  }
  return undefined
}

/** The error of the calls of a batch that were never sent because an earlier call failed. */
export function notSent (cause: GatewayError): GatewayError {
  return new GatewayError(cause.code, `not sent: an earlier Marketo call of this batch failed (${cause.message})`, { cause, upstreamCode: cause.upstreamCode, retryAfterMs: cause.retryAfterMs, sent: false })
}

export class Executor {
  private readonly random: () => number
  private readonly now: () => number

  constructor (private readonly opts: ExecutorOptions) {
    this.random = opts.random ?? Math.random
    this.now = opts.now ?? Date.now
  }

  /** Everything that must hold before a call may start: deadline, quota, circuit, call budget. */
  acquireSlot (deadline: number): Promise<CallSlot> {
    return this.opts.admission.acquire(deadline)
  }

  // `preacquired`: a slot already taken with acquireSlot, used by the first attempt of the first
  // call (the coalescer keeps its batch open while it waits for a slot).
  async send (operation: SyncOperation, objects: MObject[], deadline: number, log: CallLog, preacquired?: CallSlot): Promise<CallOutcome> {
    let plan: SyncCallPlan
    try {
      plan = this.opts.backend.planSync(operation, objects)
    } catch (err) {
      preacquired?.abandon()
      const error = toGatewayError(err)
      return { calls: 0, results: objects.map(() => error), error }
    }
    const results: Array<MObjStatus | GatewayError | undefined> = objects.map((_, i) => plan.local.get(i))
    let calls = 0
    let error: GatewayError | undefined
    let skipped: GatewayError | undefined
    for (const call of plan.calls) {
      if (error !== undefined) {
        // Later calls may depend on the failed one (roles after their opportunity): not sent.
        skipped ??= notSent(error)
        for (const i of call.indexes) results[i] = skipped
        continue
      }
      const got = await this.sendCall(operation, call, deadline, log, preacquired)
      preacquired = undefined
      calls += got.calls
      if (got.statuses !== undefined) {
        call.indexes.forEach((i, k) => { results[i] = (got.statuses as MObjStatus[])[k] })
      } else {
        error = got.error as GatewayError
        for (const i of call.indexes) results[i] = error
      }
    }
    preacquired?.abandon()
    return { calls, results: results.map((r) => r ?? new GatewayError('INTERNAL', 'the backend gave this object no call', { sent: false })), error }
  }

  /** One call of a batch, with its retries: each attempt is admitted on its own. */
  private async sendCall (operation: SyncOperation, call: SyncCall, deadline: number, log: CallLog, preacquired?: CallSlot): Promise<{ calls: number, statuses?: MObjStatus[], error?: GatewayError }> {
    const idempotent = isIdempotent(operation, call.objects)
    let calls = 0
    let resigned = false
    let everSent = false
    for (let attempt = 1; ; attempt++) {
      let error: GatewayError
      try {
        const slot = preacquired ?? await this.acquireSlot(deadline)
        preacquired = undefined
        const started = this.now()
        const hints: CallHints = { deadline: slot.callDeadline, progress: { sent: false } }
        calls++
        this.opts.budget.recordCall()
        try {
          const statuses = await call.send(hints)
          slot.end()
          const mismatch = checkStatuses(call.objects, statuses)
          if (mismatch !== undefined) {
            log.warn({ sentObjects: call.objects.length, statusCount: statuses.length }, `untrustworthy Marketo answer: ${mismatch}`)
            this.report(operation, call.objects, 'protocol_error', started)
            return { calls, error: new GatewayError('UPSTREAM_PROTOCOL_ERROR', `Marketo's answer does not match the objects sent (${mismatch})`, { sent: true }) }
          }
          this.report(operation, call.objects, 'ok', started)
          return { calls, statuses }
        } catch (err) {
          error = toGatewayError(err, { quotaRetryAfterMs: this.opts.quotaRetryAfterMs })
          slot.end(error)
          this.report(operation, call.objects, error.code, started, error.upstreamCode)
        }
      } catch (err) {
        error = toGatewayError(err)
      }
      if (error.sent) everSent = true
      const delay = retryDelay(error, { attempt, maxAttempts: this.opts.maxAttempts, idempotent, resigned, deadline, minCallMs: this.opts.admission.minCallMs, backoffBaseMs: this.opts.backoffBaseMs, backoffMaxMs: this.opts.backoffMaxMs, budget: this.opts.budget, now: this.now, random: this.random })
      if (delay === undefined) {
        log.info({ attempt, code: error.code, upstreamCode: error.upstreamCode, sent: error.sent }, 'Marketo call failed')
        const final = everSent && !error.sent
          ? new GatewayError(error.code, error.message, { cause: error, upstreamCode: error.upstreamCode, retryAfterMs: error.retryAfterMs, sent: true })
          : error
        return { calls, error: final }
      }
      if (error.upstreamCode === 20016) resigned = true
      log.debug({ attempt, code: error.code, upstreamCode: error.upstreamCode, delayMs: delay }, 'retrying Marketo call')
      if (delay > 0) await sleep(delay)
    }
  }

  private report (operation: SyncOperation, objects: MObject[], outcome: string, started: number, upstreamCode?: number): void {
    this.opts.onCall?.({ operation, objects: objects.length, outcome, upstreamCode, durationMs: this.now() - started })
  }
}
