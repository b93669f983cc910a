import { GatewayError } from '../domain/errors.js'
import { classifyTransport } from './errors.js'
import type { MObject, SyncOperation } from '../domain/model.js'
import type { CallSlot } from './state/admission.js'
import type { CallLog } from './executor.js'
import type { BatchSender, CallOutcome } from './batch.js'

/** Checked with a call slot held, before a request's objects are sent; false: they are not. */
export type BeforeSend = () => Promise<boolean>

export interface Dispatcher {
  send (operation: SyncOperation, objects: MObject[], deadline: number, log: CallLog, beforeSend?: BeforeSend): Promise<CallOutcome>
}

interface Entry {
  objects: MObject[]
  deadline: number
  log: CallLog
  beforeSend?: BeforeSend
  resolve: (outcome: CallOutcome) => void
}

interface Batch {
  key: string
  operation: SyncOperation
  entries: Entry[]
  size: number
  open: boolean
  timer?: NodeJS.Timeout
  /** Record keys of its objects (CoalescerOptions.recordKey). */
  records: Set<string>
  /** Sends still in flight that carry one of its records: it waits for them. */
  after: Set<Promise<void>>
  done: Promise<void>
  finish: () => void
}

export interface CoalescerOptions {
  windowMs: number
  maxObjects: number
  onFlush?: (requests: number, objects: number) => void
  /**
   * The key the backend dedupes a record on, when two records with one key must not share a call
   * (REST answers the second 1036, "Duplicate object found in input"). Objects with one key from
   * different callers then go in separate calls, one after the other, in the order they came.
   */
  recordKey?: (o: MObject) => string | undefined
}

// Merges concurrent writes of the same type and operation, from any callers, into shared
// syncMObjects calls of up to `maxObjects`. A batch stays open for `windowMs` and then for as long
// as it waits for a call slot, so under load calls fill up and under light load latency stays low.
// Each caller gets exactly its own statuses, in its own order; a request's objects stay together.
export class Coalescer implements Dispatcher {
  private readonly open = new Map<string, Batch>()
  /** Record key -> the last send in flight that carries it. */
  private readonly inflight = new Map<string, Promise<void>>()

  constructor (private readonly executor: BatchSender, private readonly opts: CoalescerOptions) {}

  send (operation: SyncOperation, objects: MObject[], deadline: number, log: CallLog, beforeSend?: BeforeSend): Promise<CallOutcome> {
    const type = objects[0]?.type
    const records = this.recordsOf(objects)
    const earlier = this.earlier(records)
    // Mixed types depend on their order inside one call; full chunks gain nothing from merging.
    if (this.opts.windowMs <= 0 || objects.length >= this.opts.maxObjects || objects.some((o) => o.type !== type)) {
      return this.direct(operation, objects, deadline, log, records, earlier, beforeSend)
    }
    return new Promise((resolve) => {
      const key = `${operation}:${type}`
      let batch = this.open.get(key)
      // Objects named by a send still in flight go in a new batch that waits for it: never two
      // records with one key in a call, and never two such calls at once. Only a new batch takes
      // dependencies, so no two batches wait for each other.
      if (batch !== undefined && (batch.size + objects.length > this.opts.maxObjects || earlier.size > 0)) {
        this.close(batch)
        batch = undefined
      }
      if (batch === undefined) {
        let finish = (): void => {}
        const done = new Promise<void>((resolve) => { finish = resolve })
        batch = { key, operation, entries: [], size: 0, open: true, records: new Set(), after: earlier, done, finish }
        this.open.set(key, batch)
        const b = batch
        b.timer = setTimeout(() => { this.acquire(b) }, this.opts.windowMs)
      }
      batch.entries.push({ objects, deadline, log, beforeSend, resolve })
      batch.size += objects.length
      for (const r of records) {
        batch.records.add(r)
        this.inflight.set(r, batch.done)
      }
      if (batch.size >= this.opts.maxObjects) {
        clearTimeout(batch.timer)
        this.close(batch)
        this.acquire(batch)
      }
    })
  }

  private recordsOf (objects: MObject[]): Set<string> {
    const keyOf = this.opts.recordKey
    const out = new Set<string>()
    if (keyOf === undefined) return out
    for (const o of objects) {
      const k = keyOf(o)
      if (k !== undefined) out.add(k)
    }
    return out
  }

  private earlier (records: Set<string>): Set<Promise<void>> {
    const out = new Set<Promise<void>>()
    for (const r of records) {
      const p = this.inflight.get(r)
      if (p !== undefined) out.add(p)
    }
    return out
  }

  private settle (records: Set<string>, done: Promise<void>, finish: () => void): void {
    for (const r of records) if (this.inflight.get(r) === done) this.inflight.delete(r)
    finish()
  }

  /** A send that is not merged, after any send in flight that carries one of its records. */
  private async direct (operation: SyncOperation, objects: MObject[], deadline: number, log: CallLog, records: Set<string>, earlier: Set<Promise<void>>, beforeSend?: BeforeSend): Promise<CallOutcome> {
    if (records.size === 0) return await this.executor.send(operation, objects, deadline, log, undefined, beforeSend)
    let finish = (): void => {}
    const done = new Promise<void>((resolve) => { finish = resolve })
    for (const r of records) this.inflight.set(r, done)
    try {
      if (earlier.size > 0) await Promise.all(earlier)
      return await this.executor.send(operation, objects, deadline, log, undefined, beforeSend)
    } finally {
      this.settle(records, done, finish)
    }
  }

  private close (batch: Batch): void {
    if (!batch.open) return
    batch.open = false
    if (this.open.get(batch.key) === batch) this.open.delete(batch.key)
  }

  private acquire (batch: Batch): void {
    if (batch.timer === undefined) return
    batch.timer = undefined
    const start = (): void => {
      this.executor.acquireSlot(Math.min(...batch.entries.map((e) => e.deadline))).then((slot) => {
        this.close(batch)
        this.dispatch(batch, slot).catch(() => {}).finally(() => { this.settle(batch.records, batch.done, batch.finish) })
      }, (err: unknown) => {
        this.close(batch)
        const error = classifyTransport(err)
        for (const e of batch.entries) e.resolve({ calls: 0, results: e.objects.map(() => error), error })
        this.settle(batch.records, batch.done, batch.finish)
      })
    }
    // The batch stays open (to callers without such records) while the earlier sends finish.
    if (batch.after.size === 0) start()
    else Promise.all(batch.after).then(start).catch(() => {})
  }

  private async dispatch (batch: Batch, slot: CallSlot): Promise<void> {
    const entries = await admitted(batch.entries)
    if (entries.length === 0) {
      slot.abandon()
      return
    }
    const objects = entries.flatMap((e) => e.objects)
    const deadline = Math.min(...entries.map((e) => e.deadline))
    this.opts.onFlush?.(entries.length, objects.length)
    let outcome: CallOutcome
    try {
      outcome = await this.executor.send(batch.operation, objects, deadline, entries[0].log, slot)
    } catch (err) {
      slot.abandon()
      const error = classifyTransport(err)
      outcome = { calls: 1, results: objects.map(() => error), error }
    }
    const error = outcome.error
    // Marketo applies nothing when it rejects a call, so each caller can be re-sent alone: one
    // caller's bad data must not fail the others. Only when no object of the batch was sent: an
    // answer after which the write may have happened (REST 500/502/614) is `sent`, never split.
    if (entries.length > 1 && error !== undefined && error.code === 'UPSTREAM_REJECTED' &&
        outcome.results.every((r) => r instanceof GatewayError && !r.sent)) {
      await Promise.all(entries.map(async (e) => {
        // Its beforeSend already passed (phase calling is written).
        const alone = await this.executor.send(batch.operation, e.objects, e.deadline, e.log)
        e.resolve({ ...alone, calls: alone.calls + outcome.calls })
      }))
      return
    }
    let offset = 0
    for (const e of entries) {
      const results = outcome.results.slice(offset, offset + e.objects.length)
      offset += e.objects.length
      const own = results.find((r): r is GatewayError => r instanceof GatewayError)
      e.resolve({ calls: outcome.calls, results, error: own })
    }
  }
}

/**
 * The entries whose beforeSend (Idempotency-Key phase calling, issue #15) allows the call; the
 * others are answered at once, not applied.
 */
async function admitted (entries: Entry[]): Promise<Entry[]> {
  if (entries.every((e) => e.beforeSend === undefined)) return entries
  const ok = await Promise.all(entries.map((e) => checkBeforeSend(e.beforeSend)))
  return entries.filter((e, i) => {
    const error = ok[i]
    if (error === undefined) return true
    e.resolve({ calls: 0, results: e.objects.map(() => error), error })
    return false
  })
}

/** undefined when the call may go; otherwise why not (never sent). */
export async function checkBeforeSend (beforeSend: BeforeSend | undefined): Promise<GatewayError | undefined> {
  if (beforeSend === undefined) return undefined
  try {
    if (await beforeSend()) return undefined
    return new GatewayError('IDEMPOTENCY_KEY_IN_USE', 'this request lost its Idempotency-Key claim (its lease expired and another request took the key over) before its Marketo call, so nothing was sent', { sent: false, retryAfterMs: 1_000 })
  } catch (err) {
    return new GatewayError('IDEMPOTENCY_UNAVAILABLE', 'the shared Idempotency-Key store did not record this request\'s Marketo call, so nothing was sent', { cause: err, sent: false, retryAfterMs: 1_000 })
  }
}
