import { randomUUID } from 'node:crypto'
import { DelayedError, Queue, Worker, type Job, type ConnectionOptions } from 'bullmq'
import { GatewayError } from '../domain/errors.js'
import type { MObject, SyncOperation } from '../domain/model.js'
import { summarize, type ObjectResult } from '../domain/results.js'
import type { GetMObjectsPage, GetMObjectsQuery, ReadMObject } from '../domain/queries.js'
import type { CallLog } from '../upstream/executor.js'
import type { SyncPlan, SyncRun } from '../upstream/sync-service.js'
import type { JobStore } from './store.js'

export const QUEUE_NAME = 'chunks'

export interface ChunkData { jobId: string, chunk: number }

/** What a chunk needs from the gateway's Marketo runtime (app.marketo), so tests can stand in for it. */
export interface JobRuntime {
  sync: { run (plan: SyncPlan, deadline: number, log: CallLog): Promise<SyncRun> }
  reader: {
    getMObjects (query: GetMObjectsQuery, deadline: number, log: CallLog): Promise<GetMObjectsPage>
    /** Opportunities one read may name by external key (REST 300); absent or 1: one read per object. */
    readonly maxKeysPerRead?: number
  }
}

export interface RunnerOptions {
  store: JobStore
  runtime: JobRuntime
  /** BullMQ's own connections (maxRetriesPerRequest null); never the request path's client. */
  connection: ConnectionOptions
  prefix: string
  log: CallLog & { error (obj: object, msg: string): void }
  /** Deadline of one chunk's Marketo work (the gateway's REQUEST_TIMEOUT_MS). */
  chunkTimeoutMs: number
  lockMs: number
  attempts: number
  /** Chunks sent at once by this replica and, as BullMQ's global concurrency, by all of them. */
  concurrency: number
  worker: boolean
  onChunk?: (event: { results: ObjectResult[], calls: number, reconciled: number }) => void
}

/**
 * The gateway's own call budget (the shared gate's bulk share) had no slot in time: nothing was
 * sent, and waiting for the budget is what a job does, so the chunk waits again without using up
 * one of its attempts.
 */
const BUDGET_WAIT: ReadonlySet<string> = new Set(['RATE_LIMITED', 'QUEUE_FULL'])
/** Marketo or the call budget refused before anything was sent: the chunk is tried again later. */
const RETRY_LATER: ReadonlySet<string> = new Set([
  'RATE_LIMITED', 'QUEUE_FULL', 'UPSTREAM_RATE_LIMITED', 'UPSTREAM_CONCURRENCY_LIMITED', 'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_CIRCUIT_OPEN', 'SHUTTING_DOWN', 'UPSTREAM_QUOTA_EXCEEDED', 'UPSTREAM_TIMEOUT'
])
/** Every later chunk would fail the same way: the job stops. */
const FATAL: ReadonlySet<string> = new Set(['UPSTREAM_AUTH', 'UPSTREAM_CLOCK_SKEW', 'BACKEND_UNSUPPORTED'])

const UNKNOWN_CODE = 'JOB_OUTCOME_UNKNOWN'

class RetryLater extends Error {
  constructor (readonly error: GatewayError) {
    super(error.message)
    this.name = 'RetryLater'
  }
}

/** Whether an object may be sent again after an unknown outcome without changing what it does. */
export function resendSafe (operation: SyncOperation, o: MObject): boolean {
  if (operation === 'INSERT') return false
  // Cost lines without a cost id are appended: a second send appends them again.
  if ((o.typeAttribs ?? []).some((t) => t.attrType === 'Cost' && !t.attribs.some((a) => a.name === 'Id'))) return false
  if (o.id !== undefined || o.externalKey !== undefined || o.marketoGUID !== undefined) return true
  // A role is keyed by its opportunity and person: UPDATE/UPSERT of it again changes nothing.
  return o.type === 'OpportunityPersonRole'
}

function retryable (run: SyncRun): GatewayError | undefined {
  const e = run.error
  if (e === undefined || !RETRY_LATER.has(e.code)) return undefined
  return run.results.every((r) => r.status === 'not_applied') ? e : undefined
}

/**
 * The verdict on an INSERT that Marketo skipped when sent again after its replica died mid-call,
 * from the object read back by its key: created at or after the interrupted call began, it is that
 * call's (`created`); older, it was there before (`skipped`).
 */
function judge (found: ReadMObject | undefined, o: MObject, index: number, since: number): ObjectResult {
  const externalKey = o.externalKey as NonNullable<MObject['externalKey']>
  if (found === undefined) return unknown(index, o, 'the replica sending this object stopped mid-call; Marketo skipped it when sent again, but reading it back by its key found nothing')
  const createdAt = found.createdAt === undefined ? NaN : Date.parse(found.createdAt)
  if (Number.isNaN(createdAt)) return { ...unknown(index, o, `an object with this external key exists (id ${String(found.id)}): created by the interrupted call or before it`), id: found.id }
  // A second of slack for the clocks of the gateway and Marketo.
  return { index, id: found.id, externalKey: { ...externalKey }, status: createdAt >= since - 1_000 ? 'created' : 'skipped' }
}

function unknown (index: number, o: MObject, message: string): ObjectResult {
  const r: ObjectResult = { index, id: o.id ?? null, status: 'unknown', error: { code: UNKNOWN_CODE, message } }
  if (o.externalKey !== undefined) r.externalKey = { ...o.externalKey }
  return r
}

/**
 * Sends a job's chunks through the gateway's bulk sync service (every call passes the same
 * admission, circuit, quota and retry budget as interactive requests, and takes the shared call
 * gate's bulk share, JOB_BUDGET_SHARE, so every call a job makes counts) on BullMQ, one BullMQ
 * job per chunk. A chunk is marked `calling` in Redis before it is sent; a chunk delivered again
 * with that mark (its replica died mid-call) is reconciled instead of being blindly re-sent.
 */
export class JobRunner {
  readonly queue: Queue
  private worker?: Worker
  private readonly opts: RunnerOptions

  constructor (opts: RunnerOptions) {
    this.opts = opts
    this.queue = new Queue(QUEUE_NAME, {
      connection: opts.connection,
      prefix: opts.prefix,
      defaultJobOptions: {
        attempts: opts.attempts,
        backoff: { type: 'custom' },
        // Kept a while after completion so that a late duplicate add of the same chunk id is a no-op.
        removeOnComplete: { age: 3_600, count: 100_000 },
        removeOnFail: { age: Math.ceil(7 * 86_400) }
      }
    })
  }

  async start (): Promise<void> {
    await this.queue.waitUntilReady()
    if (!this.opts.worker) return
    await this.queue.setGlobalConcurrency(this.opts.concurrency)
    this.worker = new Worker<ChunkData>(QUEUE_NAME, async (job, token) => await this.process(job, token), {
      connection: this.opts.connection,
      prefix: this.opts.prefix,
      concurrency: this.opts.concurrency,
      lockDuration: this.opts.lockMs,
      stalledInterval: Math.max(500, Math.floor(this.opts.lockMs / 2)),
      // A replica may die more than once under the same chunk; the chunk's own marks keep it safe.
      maxStalledCount: 10,
      settings: {
        backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) => {
          const after = err instanceof RetryLater ? err.error.retryAfterMs : undefined
          const base = Math.min(30_000, 250 * 2 ** Math.min(attemptsMade - 1, 10))
          return Math.max(after ?? 0, Math.floor(base / 2 + Math.random() * base / 2))
        }
      }
    })
    this.worker.on('failed', (job, err) => {
      if (job === undefined) return
      // Retried later, unless its attempts are spent or it stalled more often than allowed.
      const attempts = job.opts.attempts ?? 1
      if (job.attemptsMade < attempts && !/stalled/i.test(err.message)) return
      this.opts.log.error({ jobId: job.data.jobId, chunk: job.data.chunk, err: err.message }, 'bulk job chunk gave up')
      this.opts.store.finish(job.data.jobId, 'failed', `chunk ${job.data.chunk} could not be sent: ${err.message}`).catch(() => {})
    })
    this.worker.on('error', (err) => this.opts.log.warn({ err: err.message }, 'bulk job worker error'))
    await this.worker.waitUntilReady()
  }

  /** Queues a new job's chunks: all of them, or only the first when they must go in order. */
  async enqueue (jobId: string, chunks: number, sequential: boolean): Promise<void> {
    const count = sequential ? 1 : chunks
    const batch = []
    for (let c = 0; c < count; c++) batch.push({ name: 'chunk', data: { jobId, chunk: c }, opts: { jobId: `${jobId}.${c}` } })
    for (let i = 0; i < batch.length; i += 1_000) await this.queue.addBulk(batch.slice(i, i + 1_000))
  }

  async depth (): Promise<Record<string, number>> {
    return await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized')
  }

  async close (): Promise<void> {
    await this.worker?.close()
    await this.queue.close()
  }

  private async next (jobId: string, c: number): Promise<void> {
    await this.queue.add('chunk', { jobId, chunk: c }, { jobId: `${jobId}.${c}` })
  }

  async process (job: Job<ChunkData>, token?: string): Promise<void> {
    try {
      await this.processChunk(job)
    } catch (err) {
      // Waiting for the bulk share is not a failed attempt: the chunk goes back to the delayed
      // set until the budget has room (BullMQ: moveToDelayed, then DelayedError).
      if (err instanceof RetryLater && BUDGET_WAIT.has(err.error.code) && token !== undefined) {
        await job.moveToDelayed(Date.now() + Math.max(100, Math.min(err.error.retryAfterMs ?? 1_000, 30_000)), token)
        throw new DelayedError()
      }
      throw err
    }
  }

  private async processChunk (job: Job<ChunkData>): Promise<void> {
    const { jobId, chunk: c } = job.data
    const { store } = this.opts
    const record = await store.get(jobId)
    if (record === undefined || (record.state !== 'queued' && record.state !== 'running')) return
    const log = this.opts.log
    const objects = await store.chunk(jobId, c)
    if (objects === undefined) return
    const token = randomUUID()
    const begun = await store.begin(jobId, c, token)
    if (begun.kind === 'done') {
      if (record.sequential && c + 1 < record.chunks) {
        const following = await store.results(jobId, c + 1, c + 1)
        if (following[0] === null) await this.next(jobId, c + 1)
      }
      return
    }
    if (begun.kind !== 'fresh' && begun.kind !== 'indoubt') return
    const offset = c * record.chunkSize
    const deadline = Date.now() + this.opts.chunkTimeoutMs
    let results: ObjectResult[]
    let calls = 0
    let reconciled = 0
    let error: GatewayError | undefined
    try {
      if (begun.kind === 'fresh') {
        const run = await this.opts.runtime.sync.run({ operation: record.operation, objects }, deadline, log)
        calls = run.calls
        const again = retryable(run)
        if (again !== undefined) {
          await store.release(jobId, c, token)
          throw new RetryLater(again)
        }
        error = run.error
        results = run.results.map((r) => ({ ...r, index: offset + r.index }))
      } else {
        log.warn({ jobId, chunk: c }, 'bulk job chunk delivered again after its replica stopped mid-call: reconciling')
        const out = await this.reconcile(record.operation, objects, offset, begun.kind === 'indoubt' ? begun.since : Date.now(), log)
        results = out.results
        calls = out.calls
        reconciled = objects.length
        error = out.error
      }
    } catch (err) {
      if (err instanceof RetryLater) throw err
      // Anything unexpected after the mark: the chunk stays `calling`, so a retry reconciles it.
      throw err
    }
    const committed = await store.commit(jobId, c, token, results, calls, reconciled, summarize(results))
    if (committed.kind === 'fenced') {
      log.warn({ jobId, chunk: c }, 'bulk job chunk taken over by another replica while it ran: its results are not recorded here')
      return
    }
    this.opts.onChunk?.({ results, calls, reconciled })
    if (error !== undefined && FATAL.has(error.code)) {
      await store.finish(jobId, 'failed', `${error.code}: ${error.message}`)
      return
    }
    if (committed.kind === 'ok' && committed.state === 'running' && record.sequential && c + 1 < record.chunks) {
      await this.next(jobId, c + 1)
    }
  }

  /**
   * A chunk whose replica died after marking it `calling`: Marketo may have applied it.
   * - UPDATE/UPSERT of keyed objects is sent again: the same effect twice.
   * - INSERT of an object with an external key is sent again too: Marketo skips an INSERT of an
   *   object that exists (CONTRACT.md §3), so it cannot be created twice. One that comes back
   *   SKIPPED is read back by its key: created at or after the interrupted call began, it is the
   *   interrupted call's (`created`); older, it was there before (`skipped`).
   * - Anything else (an INSERT without a key, a cost line appended) is `unknown`, never sent twice.
   */
  private async reconcile (operation: SyncOperation, objects: MObject[], offset: number, since: number, log: CallLog): Promise<{ results: ObjectResult[], calls: number, error?: GatewayError }> {
    const results: ObjectResult[] = new Array(objects.length)
    const resend: number[] = []
    let calls = 0
    for (let i = 0; i < objects.length; i++) {
      const o = objects[i]
      if (resendSafe(operation, o) || (operation === 'INSERT' && o.externalKey !== undefined)) resend.push(i)
      else results[i] = unknown(offset + i, o, 'the replica sending this object stopped mid-call and it has no key to check it by: check it in Marketo before sending it again')
    }
    let error: GatewayError | undefined
    if (resend.length > 0) {
      const run = await this.opts.runtime.sync.run({ operation, objects: resend.map((i) => objects[i]) }, Date.now() + this.opts.chunkTimeoutMs, log)
      calls += run.calls
      const again = retryable(run)
      // The chunk keeps its `calling` mark: the next delivery reconciles it again.
      if (again !== undefined) throw new RetryLater(again)
      error = run.error
      run.results.forEach((r, k) => { results[resend[k]] = { ...r, index: offset + resend[k] } })
    }
    const toRead = operation === 'INSERT' ? resend.filter((i) => results[i].status === 'skipped') : []
    const perRead = this.opts.runtime.reader.maxKeysPerRead ?? 1
    if (perRead > 1) {
      // REST: one read names up to 300 keys (of one type and key name), so a chunk costs one read.
      const groups = new Map<string, number[]>()
      for (const i of toRead) {
        const g = `${objects[i].type}\n${objects[i].externalKey?.name ?? ''}`
        groups.set(g, [...(groups.get(g) ?? []), i])
      }
      for (const group of groups.values()) {
        for (let k = 0; k < group.length; k += perRead) {
          const part = group.slice(k, k + perRead)
          const out = await this.readBackMany(part.map((i) => objects[i]), part.map((i) => offset + i), since, log)
          calls += out.calls
          part.forEach((i, j) => { results[i] = out.results[j] })
        }
      }
    } else {
      // A few reads at a time, each with its own deadline, within the jobs' call budget.
      for (let k = 0; k < toRead.length; k += this.opts.concurrency) {
        await Promise.all(toRead.slice(k, k + this.opts.concurrency).map(async (i) => {
          calls++
          results[i] = await this.readBack(objects[i], offset + i, since, log)
        }))
      }
    }
    return { results, calls, error }
  }

  /** Several objects of one type and key name read back in one lookup (pages followed, bounded). */
  private async readBackMany (objects: MObject[], indexes: number[], since: number, log: CallLog): Promise<{ results: ObjectResult[], calls: number }> {
    const keys = objects.map((o) => o.externalKey as NonNullable<MObject['externalKey']>)
    const query: GetMObjectsQuery = { type: objects[0].type, externalKeys: keys, pageSize: keys.length }
    const found = new Map<string, ReadMObject>()
    let calls = 0
    try {
      let position: string | undefined
      for (let page = 0; page < 100; page++) {
        calls++
        const p = await this.opts.runtime.reader.getMObjects(position === undefined ? query : { ...query, streamPosition: position }, Date.now() + this.opts.chunkTimeoutMs, log)
        for (const o of p.objects) if (o.externalKey !== undefined && !found.has(o.externalKey.value)) found.set(o.externalKey.value, o)
        if (!p.hasMore || p.newStreamPosition === '') break
        position = p.newStreamPosition
      }
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err)
      return { calls, results: objects.map((o, j) => unknown(indexes[j], o, `the replica sending this object stopped mid-call; Marketo skipped it when sent again, and reading it back failed (${why})`)) }
    }
    return { calls, results: objects.map((o, j) => judge(found.get(keys[j].value), o, indexes[j], since)) }
  }

  private async readBack (o: MObject, index: number, since: number, log: CallLog): Promise<ObjectResult> {
    const externalKey = o.externalKey as NonNullable<MObject['externalKey']>
    let page: GetMObjectsPage
    try {
      page = await this.opts.runtime.reader.getMObjects({ type: o.type, externalKey }, Date.now() + this.opts.chunkTimeoutMs, log)
    } catch (err) {
      return unknown(index, o, `the replica sending this object stopped mid-call; Marketo skipped it when sent again, and reading it back failed (${err instanceof Error ? err.message : String(err)})`)
    }
    return judge(page.objects[0], o, index, since)
  }
}
