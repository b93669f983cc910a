import { createHash, randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { configure } from 'safe-stable-stringify'
import { Counter, Gauge } from 'prom-client'
import type { Redis } from 'ioredis'
import type { ConnectionOptions } from 'bullmq'
import type { Config } from '../config.js'
import { GatewayError } from '../domain/errors.js'
import type { MObject } from '../domain/model.js'
import type { ObjectResult } from '../domain/results.js'
import { sendProblem } from '../http/plugins/errors.js'
import { problemResponse, commonProblems } from '../http/routes/responses.js'
import { createRedisClient, redisOptions, waitReady } from '../upstream/state/redis/client.js'
import { checkCustomFields, type DescribeCache, type NamedField } from '../upstream/describe-cache.js'
import { ItemMapper, JOB_KINDS, jsonWhere, ndjsonLines, ndjsonWhere, type JobKind } from './input.js'
import { JobStore, TERMINAL, type JobRecord } from './store.js'
import { JobRunner } from './runner.js'
import { JobParams, JobQuery, JobResultsPage, JobView, ResultsQuery } from './schemas.js'

export interface JobRoutesOptions {
  config: Config
  /**
   * Set when VALIDATE_CUSTOM_FIELDS is on (the default on REST): field names only the describe
   * can check answer 400 before the job is accepted, as on the sync routes.
   */
  describeCache?: DescribeCache
  /** Key namespace in Redis (jobs and their BullMQ queue). Default 'gwjobs'. */
  prefix?: string
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The Idempotency-Key of a POST /jobs, taken out of the headers (see the onRequest hook). */
    jobIdempotencyKey?: string
  }
}

const KEY_PATTERN = /^[\x21-\x7E]{8,255}$/
const canonicalJson = configure({ deterministic: true })
const NDJSON = 'application/x-ndjson'

function notConfigured (): GatewayError {
  return new GatewayError('JOBS_NOT_CONFIGURED', 'bulk jobs need Redis: set REDIS_URL (redis://host:6379, maxmemory-policy noeviction) on every replica; the other routes work without it', { retryAfterMs: undefined })
}

/** Redis trouble in a jobs route: 503, never a 500 that hides what to look at. */
function unavailable (err: unknown): GatewayError {
  if (err instanceof GatewayError) return err
  return new GatewayError('JOBS_UNAVAILABLE', 'the job store (Redis) did not answer; try again shortly', { cause: err, retryAfterMs: 1_000 })
}

function identity (o: MObject): string | undefined {
  if (o.id !== undefined) return `${o.type}#${o.id}`
  if (o.externalKey !== undefined) return `${o.type}@${o.externalKey.name}=${o.externalKey.value}`
  return undefined
}

/**
 * Whether a job's chunks must go one after the other, decided while its objects stream in: as
 * soon as two types mix (roles after their opportunities) or one object is named in two chunks.
 */
class OrderCheck {
  sequential = false
  private type: string | undefined
  private readonly seen = new Map<string, number>()
  add (o: MObject, chunk: number): void {
    if (this.sequential) return
    if (this.type === undefined) this.type = o.type
    if (o.type !== this.type) { this.sequential = true; return }
    const key = identity(o)
    if (key === undefined) return
    const prev = this.seen.get(key)
    if (prev !== undefined && prev !== chunk) { this.sequential = true; return }
    this.seen.set(key, chunk)
  }
}

const jobRoutes: FastifyPluginAsync<JobRoutesOptions> = async (app, opts) => {
  const { config } = opts
  const jobs = config.jobs
  const prefix = opts.prefix ?? 'gwjobs'
  const api = app.marketo.api
  const chunkSize = api.maxObjectsPerCall
  const rate = config.marketo.rate
  const budget = rate === null ? null : { calls: Math.max(1, Math.floor(rate.calls * jobs.budgetShare)), windowMs: rate.windowMs }
  const concurrency = Math.max(1, Math.floor(config.marketo.maxConcurrency * jobs.budgetShare))

  // NDJSON bodies reach the handler as the request stream, read line by line there.
  app.addContentTypeParser(NDJSON, (_request, payload, done) => { done(null, payload) })

  let store: JobStore | undefined
  let runner: JobRunner | undefined
  let client: Redis | undefined
  if (config.redis !== null) {
    const { url, password } = config.redis
    client = createRedisClient({ url, password, connectionName: 'gateway-jobs', commandTimeoutMs: 2_000, onError: (err, safe) => app.log.warn({ err: err.message, redis: safe }, 'jobs Redis connection error') })
    // Not awaited: the gateway starts (and serves everything but jobs) while Redis is away.
    waitReady(client, 5_000).catch((err: unknown) => {
      app.log.error({ err: (err as Error).message }, 'jobs Redis not ready at start: job routes answer 503 until it is')
    })
    store = new JobStore(client, prefix, jobs.retentionMs)
    // BullMQ's own connections: blocking commands, no per-command timeout, retried forever.
    const parsed = redisOptions({ url, password })
    const connection: ConnectionOptions = { host: parsed.host, port: parsed.port, db: parsed.db, username: parsed.username, password: parsed.password, tls: parsed.tls, connectionName: 'gateway-jobs-bullmq', maxRetriesPerRequest: null, enableOfflineQueue: true }
    const log = app.log.child({ component: 'jobs' })
    const objectsTotal = new Counter({ name: 'gateway_job_objects_total', help: 'Objects of bulk jobs with a final result, by status (rate() gives objects per second)', labelNames: ['status'] as const, registers: [app.metrics.registry] })
    const callsTotal = new Counter({ name: 'gateway_job_marketo_calls_total', help: 'Marketo calls made by bulk jobs on this replica', registers: [app.metrics.registry] })
    const reconciledTotal = new Counter({ name: 'gateway_job_reconciled_objects_total', help: 'Objects of chunks delivered again after a replica stopped mid-call', registers: [app.metrics.registry] })
    runner = new JobRunner({
      store,
      runtime: app.marketo.bulk,
      connection,
      prefix,
      log,
      chunkTimeoutMs: config.requestTimeoutMs,
      lockMs: jobs.lockMs,
      attempts: jobs.chunkAttempts,
      concurrency,
      worker: jobs.worker,
      onChunk: ({ results, calls, reconciled }) => {
        for (const r of results) objectsTotal.inc({ status: r.status })
        callsTotal.inc(calls)
        reconciledTotal.inc(reconciled)
      }
    })
    const s = store
    const r = runner
    // prom-client awaits collect() on every scrape; a Redis that does not answer leaves the last values.
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'gateway_jobs',
      help: 'Bulk jobs by state (finished ones until JOB_RETENTION_MS removes them), across replicas',
      labelNames: ['state'] as const,
      registers: [app.metrics.registry],
      async collect () {
        const counts = await s.stateCounts().catch(() => undefined)
        if (counts !== undefined) for (const [state, n] of Object.entries(counts)) this.set({ state }, n)
      }
    })
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'gateway_job_queue_depth',
      help: 'Chunks of bulk jobs in the queue, by BullMQ state (waiting, active, delayed)',
      labelNames: ['state'] as const,
      registers: [app.metrics.registry],
      async collect () {
        const depth = await r.depth().catch(() => undefined)
        if (depth !== undefined) for (const [state, n] of Object.entries(depth)) this.set({ state }, n)
      }
    })
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'gateway_job_budget_share',
      help: 'JOB_BUDGET_SHARE: the share of the Marketo call window bulk jobs may use',
      registers: [app.metrics.registry],
      collect () { this.set(jobs.budgetShare) }
    })
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'gateway_job_budget_used_ratio',
      help: 'Calls bulk jobs made in the current Marketo window, as a share of the whole window (at most gateway_job_budget_share)',
      registers: [app.metrics.registry],
      async collect () {
        if (rate === null) return
        const gate = app.marketo.shared?.budget
        if (gate === undefined) return
        const used = await gate.used('bulk').catch(() => undefined)
        if (used !== undefined) this.set(used / rate.calls)
      }
    })
    // Not awaited either: BullMQ waits for Redis as long as it takes, and the gateway must start without it.
    runner.start().catch((err: unknown) => { log.error({ err: (err as Error).message }, 'bulk job worker did not start') })
    // Workers finish the chunk they are sending before the Marketo runtime closes.
    app.addHook('preClose', async () => { await r.close() })
    app.addHook('onClose', async () => { client?.disconnect() })
    await registerBoard(app, runner)
  }

  const owner = (request: FastifyRequest): string => request.apiKeyName ?? 'anonymous'

  function etaOf (job: JobRecord, waitingAhead: number): JobView['eta'] {
    if (TERMINAL.has(job.state)) return null
    const remainingCalls = Math.ceil((job.total - job.processed) / job.chunkSize)
    const perSecond = budget === null ? concurrency * 2 : budget.calls / (budget.windowMs / 1_000)
    const seconds = Math.ceil((remainingCalls + waitingAhead) / perSecond)
    return {
      seconds,
      at: new Date(Date.now() + seconds * 1_000).toISOString(),
      basis: budget === null
        ? `${remainingCalls} calls left, ${waitingAhead} chunks queued ahead, about ${perSecond} calls/s (no call window configured)`
        : `${remainingCalls} calls left, ${waitingAhead} chunks queued ahead, ${budget.calls} calls per ${budget.windowMs} ms (JOB_BUDGET_SHARE ${jobs.budgetShare})`
    }
  }

  async function view (job: JobRecord): Promise<JobView> {
    const waiting = TERMINAL.has(job.state) || runner === undefined ? 0 : await runner.queue.getWaitingCount().catch(() => 0)
    const ownWaiting = job.sequential ? 1 : job.chunks - job.doneChunks
    const pending = job.total - job.processed
    const terminal = TERMINAL.has(job.state)
    const v: JobView = {
      id: job.id,
      kind: job.kind,
      operation: job.operation.toLowerCase(),
      state: job.state,
      total: job.total,
      processed: job.processed,
      progress: job.total === 0 ? 1 : job.processed / job.total,
      counts: { ...job.counts, notApplied: job.counts.notApplied + (terminal ? pending : 0), pending: terminal ? 0 : pending },
      calls: job.calls,
      reconciled: job.reconciled,
      inFlightChunks: job.inFlight,
      createdAt: new Date(job.createdAt).toISOString(),
      eta: etaOf(job, Math.max(0, waiting - ownWaiting)),
      links: { self: `/jobs/${job.id}`, results: `/jobs/${job.id}/results` }
    }
    if (job.startedAt !== undefined) v.startedAt = new Date(job.startedAt).toISOString()
    if (job.finishedAt !== undefined) v.finishedAt = new Date(job.finishedAt).toISOString()
    if (job.error !== undefined) v.error = job.error
    return v
  }

  async function ownJob (request: FastifyRequest, id: string): Promise<JobRecord> {
    if (store === undefined) throw notConfigured()
    let job: JobRecord | undefined
    try {
      job = await store.get(id)
    } catch (err) {
      throw unavailable(err)
    }
    // Another key's job is answered exactly like a missing one.
    if (job === undefined || job.owner !== owner(request)) throw new GatewayError('NOT_FOUND', `no job ${id}`)
    return job
  }

  const jobProblems = {
    400: problemResponse('Invalid job: unknown kind or operation, an invalid object (named by its line or index), no objects or more than JOB_MAX_OBJECTS'),
    401: commonProblems[401],
    404: problemResponse('No such job for this API key'),
    409: problemResponse('An upload with this Idempotency-Key is in progress, or the job has already finished'),
    413: problemResponse('Body larger than JOB_MAX_BODY_BYTES, or a line longer than BODY_LIMIT_BYTES'),
    415: problemResponse('Body is neither application/json nor application/x-ndjson'),
    422: problemResponse('Idempotency-Key reused with a different job'),
    429: commonProblems[429],
    503: problemResponse('Bulk jobs are not configured (REDIS_URL), or Redis is unavailable')
  }

  // The gateway's idempotency plugin fingerprints and stores parsed bodies; a job keeps its key
  // in Redis with the job id instead (and an NDJSON body is a stream), so the header is taken out
  // of its way before it runs.
  const takeKey = async (request: FastifyRequest): Promise<void> => {
    const header = request.headers['idempotency-key']
    if (header === undefined) return
    if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
      throw new GatewayError('INVALID_HEADER', 'Idempotency-Key must be 8 to 255 printable ASCII characters (a UUID is recommended)')
    }
    request.jobIdempotencyKey = header
    delete request.headers['idempotency-key']
  }

  app.post<{ Querystring: { kind?: JobKind, operation?: string } }>('/jobs', {
    bodyLimit: jobs.maxBodyBytes,
    onRequest: takeKey,
    schema: {
      tags: ['jobs'],
      operationId: 'createJob',
      summary: `Start a bulk sync job of up to ${jobs.maxObjects.toLocaleString('en-US')} objects`,
      description: 'JSON `{ kind, operation, objects: [...] }`, or NDJSON (`application/x-ndjson`, one object per line, `?kind=…&operation=…`). Every object is validated with its sync route\'s schema before anything is queued, and with VALIDATE_CUSTOM_FIELDS (the default on REST) its field names against the cached describe. Needs REDIS_URL.',
      querystring: JobQuery,
      response: {
        202: { ...JobView, description: 'Accepted: Location names the job' },
        ...jobProblems
      }
    }
  }, async (request, reply) => {
    if (store === undefined || runner === undefined) return sendProblem(request, reply, notConfigured())
    const s = store
    const body = request.body
    const isStream = body instanceof Readable
    let kind: string | undefined
    let operation: string | undefined
    let items: unknown[] | undefined
    if (isStream) {
      kind = request.query.kind
      operation = request.query.operation
      if (kind === undefined) return sendProblem(request, reply, new GatewayError('VALIDATION_FAILED', 'querystring/kind is required with an NDJSON body', { errors: [{ path: 'querystring:/kind', message: `is required (one of ${JOB_KINDS.join(', ')})` }] }))
    } else {
      const b = body as Record<string, unknown> | null
      if (b === null || typeof b !== 'object' || Array.isArray(b)) return sendProblem(request, reply, new GatewayError('VALIDATION_FAILED', 'the body must be an object { kind, operation, objects }'))
      const extra = Object.keys(b).find((k) => !['kind', 'operation', 'objects'].includes(k))
      if (extra !== undefined) return sendProblem(request, reply, new GatewayError('VALIDATION_FAILED', `/${extra} is not a known field`, { errors: [{ path: `body:/${extra}`, message: 'is not a known field' }] }))
      if (typeof b.kind !== 'string' || !(JOB_KINDS as readonly string[]).includes(b.kind)) return sendProblem(request, reply, new GatewayError('VALIDATION_FAILED', `/kind must be one of ${JOB_KINDS.join(', ')}`, { errors: [{ path: 'body:/kind', message: `must be one of ${JOB_KINDS.join(', ')}` }] }))
      if (b.operation !== undefined && typeof b.operation !== 'string') return sendProblem(request, reply, new GatewayError('VALIDATION_FAILED', '/operation must be a string', { errors: [{ path: 'body:/operation', message: 'must be a string' }] }))
      if (!Array.isArray(b.objects)) return sendProblem(request, reply, new GatewayError('VALIDATION_FAILED', '/objects must be an array', { errors: [{ path: 'body:/objects', message: 'must be an array' }] }))
      kind = b.kind
      operation = b.operation as string | undefined
      items = b.objects
    }
    if (!(JOB_KINDS as readonly string[]).includes(kind)) return sendProblem(request, reply, new GatewayError('VALIDATION_FAILED', `kind must be one of ${JOB_KINDS.join(', ')}`))
    const mapper = new ItemMapper(kind as JobKind, operation, isStream ? ndjsonWhere : jsonWhere)

    const fingerprint = createHash('sha256').update(`${mapper.kind}\n${mapper.operation}\n`)
    if (!isStream) fingerprint.update(canonicalJson(items) ?? '')

    // Idempotency-Key: claimed for the upload, then bound to the job id for JOB_RETENTION_MS.
    const given = request.jobIdempotencyKey
    const idemKey = given === undefined ? undefined : s.keys.idempotency(owner(request), given)
    const claimToken = randomUUID()
    if (idemKey !== undefined) {
      let claim
      try {
        claim = await s.claimKey(idemKey, claimToken, 10 * 60_000)
      } catch (err) {
        return sendProblem(request, reply, unavailable(err))
      }
      if (claim.kind === 'pending') return sendProblem(request, reply, new GatewayError('IDEMPOTENCY_KEY_IN_USE', 'an upload with this Idempotency-Key is still in progress', { retryAfterMs: 1_000 }))
      if (claim.kind === 'job') {
        if (isStream) for await (const piece of body as Readable) fingerprint.update(piece as Buffer)
        if (fingerprint.digest('hex') !== claim.fingerprint) return sendProblem(request, reply, new GatewayError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different job; use a new key for a new job'))
        const existing = await s.get(claim.jobId).catch(() => undefined)
        if (existing === undefined) return sendProblem(request, reply, new GatewayError('NOT_FOUND', `the job ${claim.jobId} created with this Idempotency-Key has been removed`))
        reply.header('idempotent-replayed', 'true')
        return reply.code(202).header('location', `/jobs/${existing.id}`).send(await view(existing))
      }
    }

    const id = randomUUID()
    const order = new OrderCheck()
    const described = new Map<string, NamedField>()
    let total = 0
    let chunks = 0
    let buffer: MObject[] = []
    const flush = async (): Promise<void> => {
      if (buffer.length === 0) return
      const offset = chunks * chunkSize
      const objects = buffer
      buffer = []
      api.checkWrite(mapper.operation, objects, (i, path) => `${mapper.fail(offset + i, path, '').errors?.[0].path ?? ''}`)
      await s.stageChunk(id, objects)
      chunks++
    }
    const accept = async (index: number, item: unknown): Promise<void> => {
      if (total >= jobs.maxObjects) throw mapper.fail(index, '', `is past JOB_MAX_OBJECTS (${jobs.maxObjects}): split the job`)
      const o = mapper.map(index, item)
      if (opts.describeCache !== undefined) {
        // One entry per field name, at its first use: the check is one describe for the whole job.
        for (const f of mapper.describedFields(index, item)) if (!described.has(f.name)) described.set(f.name, f)
      }
      order.add(o, chunks)
      buffer.push(o)
      total++
      if (buffer.length >= chunkSize) await flush()
    }
    try {
      if (isStream) {
        let objectIndex = 0
        for await (const line of ndjsonLines(body as Readable, { maxLineBytes: config.bodyLimitBytes, maxBytes: jobs.maxBodyBytes, onBytes: (b) => fingerprint.update(b) })) {
          if (line.text.trim() === '') continue
          // Results are indexed by object (blank lines skipped); errors name the line.
          const item = mapper.parseLine(line.index, line.text)
          try {
            await accept(objectIndex, item)
          } catch (err) {
            if (err instanceof GatewayError && err.code === 'VALIDATION_FAILED' && objectIndex !== line.index) throw relocateLine(err, objectIndex, line.index)
            throw err
          }
          objectIndex++
        }
      } else {
        for (let i = 0; i < (items as unknown[]).length; i++) await accept(i, (items as unknown[])[i])
      }
      await flush()
      if (total === 0) throw new GatewayError('VALIDATION_FAILED', 'the job has no objects', { errors: [{ path: isStream ? 'body' : 'body:/objects', message: 'must hold at least one object' }] })
      // The upload may outlast REQUEST_TIMEOUT_MS (100,000 objects): the describe gets its own deadline.
      if (opts.describeCache !== undefined) await checkCustomFields(opts.describeCache, 'Opportunity', [...described.values()], Date.now() + config.requestTimeoutMs, request.log)
      await s.create({ id, owner: owner(request), kind: mapper.kind, operation: mapper.operation, total, chunks, chunkSize, sequential: order.sequential, idemKey })
      await runner.enqueue(id, chunks, order.sequential)
      if (idemKey !== undefined) await s.bindKey(idemKey, id, fingerprint.digest('hex'))
    } catch (err) {
      await s.discard(id).catch(() => {})
      if (idemKey !== undefined) await s.releaseKey(idemKey, claimToken).catch(() => {})
      if (isStream) (body as Readable).resume()
      if (err instanceof GatewayError) return sendProblem(request, reply, err)
      if ((err as { statusCode?: number }).statusCode !== undefined) throw err
      return sendProblem(request, reply, unavailable(err))
    }
    request.log.info({ jobId: id, kind: mapper.kind, operation: mapper.operation, objects: total, chunks, sequential: order.sequential }, 'bulk job accepted')
    const job = await s.get(id)
    return reply.code(202).header('location', `/jobs/${id}`).send(await view(job as JobRecord))
  })

  app.get<{ Params: JobParams }>('/jobs/:id', {
    schema: {
      tags: ['jobs'],
      operationId: 'getJob',
      summary: 'State, counts, progress, calls and ETA of a bulk job',
      params: JobParams,
      response: { 200: JobView, ...jobProblems }
    }
  }, async (request, reply) => {
    const job = await ownJob(request, request.params.id)
    return reply.send(await view(job))
  })

  app.get<{ Params: JobParams, Querystring: { cursor?: string, limit?: number } }>('/jobs/:id/results', {
    schema: {
      tags: ['jobs'],
      operationId: 'getJobResults',
      summary: 'Per-object results in input order: pages (cursor), or all as NDJSON (Accept: application/x-ndjson)',
      params: JobParams,
      querystring: ResultsQuery,
      response: { 200: { ...JobResultsPage, description: 'A page of results; with Accept: application/x-ndjson, one ObjectResult per line' }, ...jobProblems }
    }
  }, async (request, reply) => {
    const job = await ownJob(request, request.params.id)
    const s = store as JobStore
    const from = Number(request.query.cursor ?? '0')
    const accept = request.headers.accept ?? ''
    if (accept.includes(NDJSON)) {
      const stream = Readable.from(resultLines(s, job, from, Number.MAX_SAFE_INTEGER))
      reply.header('x-job-state', job.state)
      return reply.code(200).type(NDJSON).serializer((p: unknown) => p as string).send(stream)
    }
    const limit = request.query.limit ?? 1_000
    const results: ObjectResult[] = []
    let next: number | null = from
    for await (const r of resultsFrom(s, job, from)) {
      results.push(r)
      if (results.length >= limit) break
    }
    next = from + results.length >= job.total ? null : from + results.length
    return reply.send({ id: job.id, state: job.state, results, nextCursor: next === null ? null : String(next) })
  })

  app.delete<{ Params: JobParams }>('/jobs/:id', {
    schema: {
      tags: ['jobs'],
      operationId: 'cancelJob',
      summary: 'Cancel a bulk job: chunks not yet sent are not sent (their objects not_applied); a chunk in flight finishes',
      params: JobParams,
      response: { 202: { ...JobView, description: 'Cancelled (inFlightChunks: chunks still finishing)' }, ...jobProblems }
    }
  }, async (request, reply) => {
    await ownJob(request, request.params.id)
    const s = store as JobStore
    const before = await s.finish(request.params.id, 'cancelled', '', owner(request)).catch((err: unknown) => { throw unavailable(err) })
    if (before === undefined) throw new GatewayError('NOT_FOUND', `no job ${request.params.id}`)
    if (TERMINAL.has(before)) throw new GatewayError('JOB_FINISHED', `the job has already ${before === 'completed' ? 'completed' : `ended ${before}`}`)
    request.log.info({ jobId: request.params.id }, 'bulk job cancelled')
    return reply.code(202).send(await view(await s.get(request.params.id) as JobRecord))
  })

  app.addHook('onSend', async (request, reply, payload) => {
    // An unread NDJSON body (an early 4xx/503) must not keep the connection busy.
    if (request.body instanceof Readable && !request.body.readableEnded) request.body.resume()
    return payload
  })

  function relocateLine (err: GatewayError, objectIndex: number, lineIndex: number): GatewayError {
    const from = `line ${objectIndex + 1}`
    const to = `line ${lineIndex + 1}`
    return new GatewayError(err.code, err.message.replace(from, to), { errors: err.errors?.map((e) => ({ ...e, path: e.path.replace(from, to) })) })
  }
}

/** Results from object `from` on, in input order, up to the first chunk without results (a running job). */
async function * resultsFrom (store: JobStore, job: JobRecord, from: number): AsyncGenerator<ObjectResult> {
  const terminal = TERMINAL.has(job.state)
  for (let c = Math.floor(from / job.chunkSize); c < job.chunks; c += 10) {
    const last = Math.min(job.chunks - 1, c + 9)
    const pages = await store.results(job.id, c, last)
    for (let k = 0; k < pages.length; k++) {
      let page = pages[k]
      if (page === null) {
        if (!terminal) return
        // Never sent (cancelled or failed): not_applied, named like the object sent would be.
        const objects = await store.chunk(job.id, c + k) ?? []
        const offset = (c + k) * job.chunkSize
        page = objects.map((o, i) => {
          const r: ObjectResult = { index: offset + i, id: o.id ?? null, status: 'not_applied', error: { code: job.state === 'cancelled' ? 'JOB_CANCELLED' : 'JOB_FAILED', message: job.state === 'cancelled' ? 'the job was cancelled before this object was sent' : `the job failed before this object was sent${job.error === undefined ? '' : `: ${job.error}`}` } }
          if (o.externalKey !== undefined) r.externalKey = { ...o.externalKey }
          return r
        })
      }
      for (const r of page) if (r.index >= from) yield r
    }
  }
}

async function * resultLines (store: JobStore, job: JobRecord, from: number, limit: number): AsyncGenerator<string> {
  let n = 0
  for await (const r of resultsFrom(store, job, from)) {
    yield JSON.stringify(r) + '\n'
    if (++n >= limit) return
  }
}

async function registerBoard (app: Parameters<FastifyPluginAsync>[0], runner: JobRunner): Promise<void> {
  try {
    const { createBullBoard } = await import('@bull-board/api')
    const { BullMQAdapter } = await import('@bull-board/api/bullMQAdapter')
    const { FastifyAdapter } = await import('@bull-board/fastify')
    const serverAdapter = new FastifyAdapter()
    createBullBoard({ queues: [new BullMQAdapter(runner.queue as never)], serverAdapter })
    serverAdapter.setBasePath('/admin/queues')
    await app.register(serverAdapter.registerPlugin() as never, { prefix: '/admin/queues' })
  } catch (err) {
    app.log.warn({ err: (err as Error).message }, 'bull-board not mounted')
  }
}

export default jobRoutes
