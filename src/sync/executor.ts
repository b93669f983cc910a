import { setTimeout as sleep } from 'node:timers/promises'
import { GatewayError } from '../errors.js'
import { toGatewayError } from '../marketo/faults.js'
import { retryDelay, type CallPolicyOptions } from '../resilience/retry-policy.js'
import type { CallHints } from '../marketo/http-transport.js'
import type { MObject, MObjStatus, SyncOperation } from '../marketo/types.js'

// What differs per backend: send these objects, get these statuses (one per object, in order).
export interface SyncBackend {
  syncMObjects (operation: SyncOperation, objects: MObject[], hints: CallHints): Promise<MObjStatus[]>
}

export interface CallLog {
  debug (obj: object, msg: string): void
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

export interface ExecutorOptions extends CallPolicyOptions {
  backend: SyncBackend
  onCall?: (event: { operation: SyncOperation, objects: number, outcome: string, upstreamCode?: number, durationMs: number }) => void
}

export interface CallOutcome {
  statuses?: MObjStatus[]
  error?: GatewayError
  calls: number
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

export class Executor {
  private quotaBlockedUntil = 0
  private readonly random: () => number
  private readonly now: () => number

  constructor (private readonly opts: ExecutorOptions) {
    this.random = opts.random ?? Math.random
    this.now = opts.now ?? Date.now
  }

  get quotaBlocked (): boolean { return this.quotaBlockedUntil > this.now() }

  // Everything that must hold before a call may start: deadline, quota, circuit, call budget.
  async acquireSlot (deadline: number): Promise<() => void> {
    if (this.now() >= deadline) throw new GatewayError('UPSTREAM_TIMEOUT', 'the request deadline passed before Marketo answered', { sent: false })
    if (this.quotaBlocked) {
      throw new GatewayError('UPSTREAM_QUOTA_EXCEEDED', 'Marketo daily API quota exceeded (20015)', { upstreamCode: 20015, retryAfterMs: this.quotaBlockedUntil - this.now() })
    }
    this.opts.breaker.admit()
    return await this.opts.limiter.acquire(deadline)
  }

  // `preacquired`: a slot already taken with acquireSlot, used by the first attempt (the coalescer
  // keeps its batch open while it waits for a slot).
  async send (operation: SyncOperation, objects: MObject[], deadline: number, log: CallLog, preacquired?: () => void): Promise<CallOutcome> {
    const idempotent = isIdempotent(operation, objects)
    let calls = 0
    let resigned = false
    let everSent = false
    let attempt = 0
    for (;;) {
      attempt++
      let error: GatewayError
      let release: (() => void) | undefined
      const progress = { sent: false }
      try {
        if (preacquired !== undefined) {
          release = preacquired
          preacquired = undefined
        } else {
          release = await this.acquireSlot(deadline)
        }
        const started = this.now()
        const hints: CallHints = { deadline: Math.min(deadline, started + this.opts.callTimeoutMs), progress }
        calls++
        this.opts.budget.recordCall()
        try {
          const statuses = await this.opts.backend.syncMObjects(operation, objects, hints)
          this.opts.breaker.success()
          const mismatch = checkStatuses(objects, statuses)
          if (mismatch !== undefined) {
            log.warn({ sentObjects: objects.length, statusCount: statuses.length }, `untrustworthy Marketo answer: ${mismatch}`)
            this.report(operation, objects, 'protocol_error', started)
            return { calls, error: new GatewayError('UPSTREAM_PROTOCOL_ERROR', `Marketo's answer does not match the objects sent (${mismatch})`, { sent: true }) }
          }
          this.report(operation, objects, 'ok', started)
          return { calls, statuses }
        } catch (err) {
          error = toGatewayError(err, { quotaRetryAfterMs: this.opts.quotaRetryAfterMs })
          if (error.upstreamCode === undefined) this.opts.breaker.failure()
          else this.opts.breaker.success()
          this.report(operation, objects, error.code, started, error.upstreamCode)
        } finally {
          release()
        }
      } catch (err) {
        error = toGatewayError(err)
      }
      if (error.sent) everSent = true
      if (error.upstreamCode === 20015 || error.upstreamCode === 607) this.quotaBlockedUntil = this.now() + this.opts.quotaRetryAfterMs

      const delay = retryDelay(error, { attempt, maxAttempts: this.opts.maxAttempts, idempotent, resigned, deadline, backoffBaseMs: this.opts.backoffBaseMs, backoffMaxMs: this.opts.backoffMaxMs, budget: this.opts.budget, now: this.now, random: this.random })
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
