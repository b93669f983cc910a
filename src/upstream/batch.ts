import { GatewayError } from '../domain/errors.js'
import type { MObject, MObjStatus, SyncOperation } from '../domain/model.js'
import type { CallSlot } from './state/admission.js'
import type { MarketoBackend, SyncCall, SyncCallPlan } from './backend.js'
import type { CallExecutor, CallLog } from './executor.js'
import { checkBeforeSend, type BeforeSend } from './coalescer.js'

/** What a batch got: per object, its status from the call that carried it, or that call's error. */
export interface CallOutcome {
  calls: number
  results: Array<MObjStatus | GatewayError>
  /** The first call-level failure, in call order. */
  error?: GatewayError
}

export function checkStatuses (objects: readonly MObject[], statuses: MObjStatus[]): string | undefined {
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

/**
 * A sync batch through the one call executor: the backend splits it into calls (SOAP: one
 * syncMObjects; REST: one per endpoint and dedupe mode, one per program), each call is admitted,
 * retried and counted on its own, so a retry re-sends only a call that was not applied.
 */
export class BatchSender {
  constructor (private readonly backend: MarketoBackend, private readonly calls: CallExecutor) {}

  acquireSlot (deadline: number): Promise<CallSlot> {
    return this.calls.acquireSlot(deadline)
  }

  async send (operation: SyncOperation, objects: MObject[], deadline: number, log: CallLog, preacquired?: CallSlot, beforeSend?: BeforeSend): Promise<CallOutcome> {
    if (beforeSend !== undefined) {
      // The check runs with a slot held, right before the first call (not while queueing).
      if (preacquired === undefined) {
        try {
          preacquired = await this.calls.acquireSlot(deadline)
        } catch (err) {
          const error = this.backend.classify(err)
          return { calls: 0, results: objects.map(() => error), error }
        }
      }
      const refused = await checkBeforeSend(beforeSend)
      if (refused !== undefined) {
        preacquired.abandon()
        return { calls: 0, results: objects.map(() => refused), error: refused }
      }
    }
    let plan: SyncCallPlan
    try {
      plan = this.backend.planSync(operation, objects)
    } catch (err) {
      preacquired?.abandon()
      const error = this.backend.classify(err)
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
      const attempts = { n: 0 }
      try {
        const statuses = await this.calls.execute(counted(checked(call, log), attempts), deadline, log, preacquired)
        call.indexes.forEach((i, k) => { results[i] = statuses[k] })
      } catch (err) {
        error = this.backend.classify(err)
        for (const i of call.indexes) results[i] = error
      }
      preacquired = undefined
      calls += attempts.n
    }
    preacquired?.abandon()
    return { calls, results: results.map((r) => r ?? new GatewayError('INTERNAL', 'the backend gave this object no call', { sent: false })), error }
  }
}

// The statuses must match the objects sent, one each, in order, or none of them is trusted.
function checked (call: SyncCall, log: CallLog): SyncCall {
  return {
    ...call,
    parse: (raw) => {
      const statuses = call.parse(raw)
      const mismatch = checkStatuses(call.objectsSent, statuses)
      if (mismatch !== undefined) {
        log.warn({ sentObjects: call.objectsSent.length, statusCount: statuses.length }, `untrustworthy Marketo answer: ${mismatch}`)
        throw new GatewayError('UPSTREAM_PROTOCOL_ERROR', `Marketo's answer does not match the objects sent (${mismatch})`, { sent: true })
      }
      return statuses
    }
  }
}

function counted (call: SyncCall, attempts: { n: number }): SyncCall {
  return { ...call, send: (hints) => { attempts.n++; return call.send(hints) } }
}
