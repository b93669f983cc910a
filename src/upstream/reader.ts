import { setTimeout as sleep } from 'node:timers/promises'
import { GatewayError } from '../domain/errors.js'
import { toGatewayError } from '../backends/soap/faults.js'
import { retryDelay, type CallPolicyOptions } from './state/retry-policy.js'
import type { CallHints } from '../backends/soap/http-transport.js'
import {
  deleteMObjectsBody, describeMObjectBody, getMObjectsBody, parseDeleteStatuses, parseDescribe, parseGetMObjects,
  type GetMObjectsPage, type GetMObjectsQuery, type ObjectMetadata
} from '../backends/soap/reads.js'
import type { MarketoOperation } from '../backends/soap/soap-client.js'
import type { Attrib, MObjStatus } from '../backends/soap/types.js'
import type { RetryBudget } from './state/breaker.js'
import type { Admission } from './state/admission.js'
import type { CallEvent, CallLog } from './executor.js'

// Any one Marketo call (reads, describe, delete) through the same limiter and breaker as the
// sync executor. Retries follow the executor's rules; `idempotent` calls (reads) may also be
// re-sent after a timeout or a lost connection, since repeating them changes nothing.

export interface CallInvoker {
  invoke (operation: MarketoOperation, body: Record<string, unknown>, hints: CallHints): Promise<any>
}

/** One call, ready to send: what to send, and how to read the answer into the gateway's model. */
export interface PreparedCall<T> {
  /** For logs: getMObjects, describeMObject or deleteMObjects, whatever the backend. */
  operation: string
  send: (hints: CallHints) => Promise<unknown>
  parse: (raw: any) => T
}

/** What deleteMObjects names: an id (SOAP), or a marketoGUID or external key (REST). */
export interface DeleteTarget {
  type: string
  id?: number
  marketoGUID?: string
  externalKey?: Attrib
}

/**
 * The non-sync operations of one backend (the seam the REST backend plugs into). Each method only
 * prepares the call; it throws a GatewayError (400, or 501) before anything is sent when the
 * backend cannot serve the request.
 */
export interface ReadBackend {
  /** Objects that may share one delete call have the same group (default: all of them). */
  deleteGroup?: (o: DeleteTarget) => string
  getMObjects (query: GetMObjectsQuery): PreparedCall<GetMObjectsPage>
  describe (objectName: string): PreparedCall<ObjectMetadata>
  deleteMObjects (objects: readonly DeleteTarget[]): PreparedCall<MObjStatus[]>
}

const REST_ONLY = 'is a REST identifier: the SOAP backend (MARKETO_BACKEND=soap) names objects by id or externalKey'

/** The SOAP backend: getMObjects, describeMObject and deleteMObjects through strong-soap. */
export function soapReadBackend (client: CallInvoker): ReadBackend {
  return {
    getMObjects (query) {
      if (query.marketoGUID !== undefined) throw new GatewayError('VALIDATION_FAILED', `marketoGUID ${REST_ONLY}`, { errors: [{ path: 'querystring:/marketoGUID', message: REST_ONLY }] })
      return { operation: 'getMObjects', send: (hints) => client.invoke('getMObjects', getMObjectsBody(query), hints), parse: parseGetMObjects }
    },
    describe (objectName) {
      return { operation: 'describeMObject', send: (hints) => client.invoke('describeMObject', describeMObjectBody(objectName), hints), parse: parseDescribe }
    },
    deleteMObjects (objects) {
      const ids = objects.map((o, i) => {
        if (o.id === undefined) throw new GatewayError('VALIDATION_FAILED', `object ${i}: the SOAP backend deletes by id only`, { errors: [{ path: `/objects/${i}`, message: 'needs id: the SOAP backend deletes by id (marketoGUID and externalKey deletes are for MARKETO_BACKEND=rest)' }] })
        return { type: o.type, id: o.id }
      })
      return { operation: 'deleteMObjects', send: (hints) => client.invoke('deleteMObjects', deleteMObjectsBody(ids), hints), parse: parseDeleteStatuses }
    }
  }
}

export interface CallExecutorOptions extends CallPolicyOptions {
  /** Every call, for the upstream metrics (the same ones as the sync executor's). */
  onCall?: (event: CallEvent) => void
}

export interface CallRequest<T> {
  call: PreparedCall<T>
  idempotent: boolean
  deadline: number
  log: CallLog
}

export class CallExecutor {
  private readonly random: () => number
  private readonly now: () => number

  constructor (private readonly opts: CallExecutorOptions) {
    this.random = opts.random ?? Math.random
    this.now = opts.now ?? Date.now
  }

  /** The parsed result, or a GatewayError thrown. */
  async execute<T> (req: CallRequest<T>): Promise<T> {
    let resigned = false
    let everSent = false
    for (let attempt = 1; ; attempt++) {
      let error: GatewayError
      try {
        return await this.once(req)
      } catch (err) {
        error = toGatewayError(err, { quotaRetryAfterMs: this.opts.quotaRetryAfterMs })
      }
      if (error.sent) everSent = true
      const delay = retryDelay(error, { attempt, maxAttempts: this.opts.maxAttempts, idempotent: req.idempotent, resigned, deadline: req.deadline, minCallMs: this.opts.admission.minCallMs, backoffBaseMs: this.opts.backoffBaseMs, backoffMaxMs: this.opts.backoffMaxMs, budget: this.opts.budget, now: this.now, random: this.random })
      if (delay === undefined) {
        req.log.info({ operation: req.call.operation, attempt, code: error.code, upstreamCode: error.upstreamCode, sent: error.sent }, 'Marketo call failed')
        if (everSent && !error.sent) {
          throw new GatewayError(error.code, error.message, { cause: error, upstreamCode: error.upstreamCode, retryAfterMs: error.retryAfterMs, sent: true })
        }
        throw error
      }
      if (error.upstreamCode === 20016) resigned = true
      req.log.debug({ operation: req.call.operation, attempt, code: error.code, upstreamCode: error.upstreamCode, delayMs: delay }, 'retrying Marketo call')
      if (delay > 0) await sleep(delay)
    }
  }

  private async once<T> (req: CallRequest<T>): Promise<T> {
    const slot = await this.opts.admission.acquire(req.deadline)
    const started = this.now()
    const hints: CallHints = { deadline: slot.callDeadline, progress: { sent: false } }
    this.opts.budget.recordCall()
    let result: unknown
    try {
      result = await req.call.send(hints)
    } catch (err) {
      const mapped = toGatewayError(err, { quotaRetryAfterMs: this.opts.quotaRetryAfterMs })
      // Only transport trouble counts against the breaker: a fault is Marketo answering.
      slot.end(mapped)
      this.report(req, mapped.code, started, mapped.upstreamCode)
      throw mapped
    }
    slot.end()
    this.report(req, 'ok', started)
    return req.call.parse(result)
  }

  private report<T> (req: CallRequest<T>, outcome: string, started: number, upstreamCode?: number): void {
    this.opts.onCall?.({ operation: req.call.operation, objects: 0, outcome, upstreamCode, durationMs: this.now() - started })
  }
}

/** The three non-sync MObject operations, parsed, through the limiter, breaker and retries. */
export class ReadExecutor {
  constructor (private readonly calls: CallExecutor, private readonly backend: ReadBackend) {}

  getMObjects (query: GetMObjectsQuery, deadline: number, log: CallLog): Promise<GetMObjectsPage> {
    return this.calls.execute({ call: this.backend.getMObjects(query), idempotent: true, deadline, log })
  }

  describe (objectName: string, deadline: number, log: CallLog): Promise<ObjectMetadata> {
    return this.calls.execute({ call: this.backend.describe(objectName), idempotent: true, deadline, log })
  }

  /**
   * Not retried after an unknown outcome: a repeated delete answers UNCHANGED, which would hide
   * that the first one deleted the object. Statuses are checked against the ids sent.
   */
  /** Objects that may share one delete call have the same group (the backend decides). */
  deleteGroup (o: DeleteTarget): string {
    return this.backend.deleteGroup?.(o) ?? ''
  }

  /** The delete call for these objects, or a 400 thrown when the backend cannot express it. */
  prepareDelete (objects: readonly DeleteTarget[]): PreparedCall<MObjStatus[]> {
    return this.backend.deleteMObjects(objects)
  }

  async deleteMObjects (objects: readonly DeleteTarget[], deadline: number, log: CallLog, prepared: PreparedCall<MObjStatus[]> = this.prepareDelete(objects)): Promise<MObjStatus[]> {
    const statuses = await this.calls.execute({ call: prepared, idempotent: false, deadline, log })
    const mismatch = statuses.length !== objects.length
      ? `expected ${objects.length} statuses, got ${statuses.length}`
      : statuses.findIndex((s, i) => s.id !== null && objects[i].id !== undefined && s.id !== objects[i].id) >= 0 ? 'a status names another id than the object sent' : undefined
    if (mismatch !== undefined) {
      log.warn({ sentObjects: objects.length, statusCount: statuses.length }, `untrustworthy Marketo answer: ${mismatch}`)
      throw new GatewayError('UPSTREAM_PROTOCOL_ERROR', `Marketo's answer does not match the objects sent (${mismatch})`, { sent: true })
    }
    return statuses
  }
}

/** Reads share the sync path's admission (limiter, breaker, quota) and retry budget. */
export function createReadExecutor (m: { reads: ReadBackend, admission: Admission, budget: RetryBudget, onCall?: (event: CallEvent) => void }, cfg: { callTimeoutMs: number, maxAttempts: number, quotaResetMs: number }): ReadExecutor {
  return new ReadExecutor(new CallExecutor({
    admission: m.admission,
    budget: m.budget,
    callTimeoutMs: cfg.callTimeoutMs,
    maxAttempts: cfg.maxAttempts,
    backoffBaseMs: 100,
    backoffMaxMs: 2_000,
    quotaRetryAfterMs: cfg.quotaResetMs,
    onCall: m.onCall
  }), m.reads)
}
