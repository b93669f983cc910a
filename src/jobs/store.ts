import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { MObject, SyncOperation } from '../domain/model.js'
import type { ObjectResult, Summary } from '../domain/results.js'
import { LuaScript, LUA_NOW_MS } from '../upstream/state/redis/script.js'
import type { JobKind } from './input.js'

export type JobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled'
export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'completed', 'failed', 'cancelled']
export const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled'])

export const COUNT_FIELDS = ['created', 'updated', 'unchanged', 'skipped', 'failed', 'deleted', 'unknown', 'notApplied'] as const
export type CountField = typeof COUNT_FIELDS[number]

export interface JobRecord {
  id: string
  owner: string
  kind: JobKind
  operation: SyncOperation
  state: JobState
  total: number
  chunks: number
  chunkSize: number
  /** Chunks go one after the other (they depend on each other's order), or in any order. */
  sequential: boolean
  createdAt: number
  startedAt?: number
  finishedAt?: number
  doneChunks: number
  processed: number
  calls: number
  counts: Record<CountField, number>
  reconciled: number
  inFlight: number
  error?: string
}

/**
 * Every Redis key of the jobs, in one place. A job is a hash (its record and counters), a list of
 * chunks (JSON arrays of the mapped MObjects, 100 by default), a hash of per-chunk results and a
 * hash of per-chunk states: absent (never tried), `calling:<token>:<ms>` (a replica may be
 * sending it; written before any byte goes to Marketo) or `done`.
 */
export class JobKeys {
  constructor (readonly prefix: string) {}
  job (id: string): string { return `${this.prefix}:job:${id}` }
  objects (id: string): string { return `${this.prefix}:job:${id}:objects` }
  results (id: string): string { return `${this.prefix}:job:${id}:results` }
  chunkStates (id: string): string { return `${this.prefix}:job:${id}:chunks` }
  index (state: JobState): string { return `${this.prefix}:index:${state}` }
  idempotency (owner: string, key: string): string {
    return `${this.prefix}:idem:${createHash('sha256').update(`${owner}\n${key}`).digest('hex')}`
  }
}

// Lua helpers, given `prefix` and `id` in ARGV[1], ARGV[2]: move a job between state indexes and
// expire every key of a finished job together.
const LUA_JOB = `
local prefix = ARGV[1]
local id = ARGV[2]
local jobKey = prefix .. ':job:' .. id
local function moveIndex (from, to, score)
  redis.call('ZREM', prefix .. ':index:' .. from, id)
  redis.call('ZADD', prefix .. ':index:' .. to, score, id)
end
local function finish (state, now, retention, err)
  local from = redis.call('HGET', jobKey, 'state')
  redis.call('HSET', jobKey, 'state', state, 'finishedAt', now)
  if err and err ~= '' then redis.call('HSET', jobKey, 'error', err) end
  for _, suffix in ipairs({'', ':objects', ':results', ':chunks'}) do
    redis.call('PEXPIRE', jobKey .. suffix, retention)
  end
  local idem = redis.call('HGET', jobKey, 'idem')
  if idem then redis.call('PEXPIRE', idem, retention) end
  moveIndex(from, state, now + retention)
end
`

// ARGV: prefix, id, chunk, token. → {'missing'} | {'done'} | {'terminal', state} | {'fresh'} | {'indoubt', previous marker}
const BEGIN = new LuaScript(`${LUA_NOW_MS}${LUA_JOB}
local chunk = ARGV[3]
local state = redis.call('HGET', jobKey, 'state')
if not state then return {'missing'} end
local chunksKey = jobKey .. ':chunks'
local cur = redis.call('HGET', chunksKey, chunk)
if cur == 'done' then return {'done'} end
if state ~= 'queued' and state ~= 'running' then return {'terminal', state} end
-- A chunk taken over keeps the time of its first mark: what that call may have created is judged from it.
local since = now
if cur then since = tonumber(string.match(cur, ':(%d+)$')) or now end
redis.call('HSET', chunksKey, chunk, 'calling:' .. ARGV[4] .. ':' .. since)
if state == 'queued' then
  redis.call('HSET', jobKey, 'state', 'running', 'startedAt', now)
  moveIndex('queued', 'running', 0)
end
if cur then return {'indoubt', cur} end
return {'fresh'}
`, 0)

// ARGV: prefix, id, chunk, token, results JSON, objects, calls, retention, reconciled, then count field/delta pairs.
// → {'done'} | {'fenced'} | {'ok', state}
const COMMIT = new LuaScript(`${LUA_NOW_MS}${LUA_JOB}
local chunk = ARGV[3]
local chunksKey = jobKey .. ':chunks'
local cur = redis.call('HGET', chunksKey, chunk)
if cur == 'done' then return {'done'} end
local mine = 'calling:' .. ARGV[4] .. ':'
if not cur or string.sub(cur, 1, string.len(mine)) ~= mine then return {'fenced'} end
redis.call('HSET', jobKey .. ':results', chunk, ARGV[5])
redis.call('HSET', chunksKey, chunk, 'done')
local done = redis.call('HINCRBY', jobKey, 'doneChunks', 1)
redis.call('HINCRBY', jobKey, 'processed', tonumber(ARGV[6]))
redis.call('HINCRBY', jobKey, 'calls', tonumber(ARGV[7]))
redis.call('HINCRBY', jobKey, 'reconciled', tonumber(ARGV[9]))
for i = 10, #ARGV, 2 do redis.call('HINCRBY', jobKey, 'c:' .. ARGV[i], tonumber(ARGV[i + 1])) end
local state = redis.call('HGET', jobKey, 'state')
if state == 'running' and done >= tonumber(redis.call('HGET', jobKey, 'chunks')) then
  finish('completed', now, tonumber(ARGV[8]), '')
  state = 'completed'
elseif state ~= 'running' and state ~= 'queued' then
  -- A chunk that was in flight when the job was cancelled: its keys expire with the job's.
  redis.call('PEXPIRE', jobKey .. ':results', tonumber(ARGV[8]))
end
return {'ok', state}
`, 0)

// ARGV: prefix, id, chunk, token. Nothing of the chunk was sent: it may be tried afresh.
const RELEASE = new LuaScript(`${LUA_JOB}
local chunksKey = jobKey .. ':chunks'
local cur = redis.call('HGET', chunksKey, ARGV[3])
local mine = 'calling:' .. ARGV[4] .. ':'
if cur and string.sub(cur, 1, string.len(mine)) == mine then redis.call('HDEL', chunksKey, ARGV[3]) return 1 end
return 0
`, 0)

// ARGV: prefix, id, state, retention, error, owner ('' = any). → previous state, or false.
const FINISH = new LuaScript(`${LUA_NOW_MS}${LUA_JOB}
local state = redis.call('HGET', jobKey, 'state')
if not state then return false end
if ARGV[6] ~= '' and redis.call('HGET', jobKey, 'owner') ~= ARGV[6] then return false end
if state == 'queued' or state == 'running' then finish(ARGV[3], now, tonumber(ARGV[4]), ARGV[5]) end
return state
`, 0)

export type BeginResult =
  | { kind: 'missing' | 'done' | 'fresh' }
  | { kind: 'terminal', state: JobState }
  | { kind: 'indoubt', since: number }

export interface NewJob {
  id: string
  owner: string
  kind: JobKind
  operation: SyncOperation
  total: number
  chunks: number
  chunkSize: number
  sequential: boolean
  idemKey?: string
}

export class JobStore {
  readonly keys: JobKeys

  constructor (private readonly redis: Redis, prefix: string, private readonly retentionMs: number) {
    this.keys = new JobKeys(prefix)
  }

  /** Stages one chunk of a job being uploaded; the staged list expires unless the job is created. */
  async stageChunk (id: string, objects: MObject[]): Promise<void> {
    await this.redis.multi().rpush(this.keys.objects(id), JSON.stringify(objects)).pexpire(this.keys.objects(id), 3_600_000).exec()
  }

  async discard (id: string): Promise<void> {
    await this.redis.del(this.keys.objects(id))
  }

  async create (job: NewJob): Promise<void> {
    const now = Date.now()
    const fields: Record<string, string | number> = {
      owner: job.owner,
      kind: job.kind,
      operation: job.operation,
      state: 'queued',
      total: job.total,
      chunks: job.chunks,
      chunkSize: job.chunkSize,
      sequential: job.sequential ? 1 : 0,
      createdAt: now,
      doneChunks: 0,
      processed: 0,
      calls: 0,
      reconciled: 0
    }
    if (job.idemKey !== undefined) fields.idem = job.idemKey
    await this.redis.multi()
      .hset(this.keys.job(job.id), fields)
      .persist(this.keys.objects(job.id))
      .zadd(this.keys.index('queued'), 0, job.id)
      .exec()
  }

  async get (id: string): Promise<JobRecord | undefined> {
    const [[, h], [, calling]] = await this.redis.multi().hgetall(this.keys.job(id)).hvals(this.keys.chunkStates(id)).exec() as [[unknown, Record<string, string>], [unknown, string[]]]
    if (h.state === undefined) return undefined
    const counts = Object.fromEntries(COUNT_FIELDS.map((f) => [f, Number(h[`c:${f}`] ?? 0)])) as Record<CountField, number>
    const num = (v: string | undefined): number | undefined => v === undefined ? undefined : Number(v)
    return {
      id,
      owner: h.owner,
      kind: h.kind as JobKind,
      operation: h.operation as SyncOperation,
      state: h.state as JobState,
      total: Number(h.total),
      chunks: Number(h.chunks),
      chunkSize: Number(h.chunkSize),
      sequential: h.sequential === '1',
      createdAt: Number(h.createdAt),
      startedAt: num(h.startedAt),
      finishedAt: num(h.finishedAt),
      doneChunks: Number(h.doneChunks),
      processed: Number(h.processed),
      calls: Number(h.calls),
      counts,
      reconciled: Number(h.reconciled ?? 0),
      inFlight: calling.filter((v) => v.startsWith('calling:')).length,
      error: h.error
    }
  }

  async chunk (id: string, c: number): Promise<MObject[] | undefined> {
    const text = await this.redis.lindex(this.keys.objects(id), c)
    return text === null ? undefined : JSON.parse(text) as MObject[]
  }

  /** Stored results of chunks from..to (inclusive), null for a chunk with none yet. */
  async results (id: string, from: number, to: number): Promise<Array<ObjectResult[] | null>> {
    if (to < from) return []
    const fields = []
    for (let c = from; c <= to; c++) fields.push(String(c))
    const texts = await this.redis.hmget(this.keys.results(id), ...fields)
    return texts.map((t) => t === null ? null : JSON.parse(t) as ObjectResult[])
  }

  async begin (id: string, c: number, token: string): Promise<BeginResult> {
    const r = await BEGIN.run(this.redis, [], [this.keys.prefix, id, c, token]) as string[]
    if (r[0] === 'terminal') return { kind: 'terminal', state: r[1] as JobState }
    if (r[0] === 'indoubt') return { kind: 'indoubt', since: Number(r[1].split(':')[2]) }
    return { kind: r[0] as 'missing' | 'done' | 'fresh' }
  }

  async commit (id: string, c: number, token: string, results: ObjectResult[], calls: number, reconciled: number, summary: Summary): Promise<{ kind: 'done' | 'fenced' } | { kind: 'ok', state: JobState }> {
    const deltas: Array<string | number> = []
    for (const f of COUNT_FIELDS) if (summary[f] > 0) deltas.push(f, summary[f])
    const r = await COMMIT.run(this.redis, [], [this.keys.prefix, id, c, token, JSON.stringify(results), results.length, calls, this.retentionMs, reconciled, ...deltas]) as string[]
    if (r[0] === 'ok') return { kind: 'ok', state: r[1] as JobState }
    return { kind: r[0] as 'done' | 'fenced' }
  }

  async release (id: string, c: number, token: string): Promise<void> {
    await RELEASE.run(this.redis, [], [this.keys.prefix, id, c, token])
  }

  /** Ends a queued or running job (cancelled, failed); the previous state, or undefined if there is no such job (of that owner). */
  async finish (id: string, state: 'cancelled' | 'failed', error = '', owner = ''): Promise<JobState | undefined> {
    const r = await FINISH.run(this.redis, [], [this.keys.prefix, id, state, this.retentionMs, error, owner])
    return r === null || r === 0 || r === false ? undefined : r as JobState
  }

  /** Jobs per state (finished ones until they expire). */
  async stateCounts (): Promise<Record<JobState, number>> {
    const now = Date.now()
    const m = this.redis.multi()
    for (const s of JOB_STATES) {
      if (TERMINAL.has(s)) m.zremrangebyscore(this.keys.index(s), '-inf', now)
      m.zcard(this.keys.index(s))
    }
    const out = await m.exec() as Array<[unknown, number]>
    const counts = {} as Record<JobState, number>
    let k = 0
    for (const s of JOB_STATES) {
      if (TERMINAL.has(s)) k++
      counts[s] = Number(out[k][1])
      k++
    }
    return counts
  }

  /** Idempotency-Key → job: claims the key for an upload, or returns what it already names. */
  async claimKey (key: string, token: string, leaseMs: number): Promise<{ kind: 'claimed' } | { kind: 'pending' } | { kind: 'job', jobId: string, fingerprint: string }> {
    const ok = await this.redis.set(key, `pending:${token}`, 'PX', leaseMs, 'NX')
    if (ok === 'OK') return { kind: 'claimed' }
    const value = await this.redis.get(key)
    if (value === null) return this.claimKey(key, token, leaseMs)
    if (value.startsWith('pending:')) return { kind: 'pending' }
    const parsed = JSON.parse(value) as { jobId: string, fingerprint: string }
    return { kind: 'job', ...parsed }
  }

  async bindKey (key: string, jobId: string, fingerprint: string): Promise<void> {
    await this.redis.set(key, JSON.stringify({ jobId, fingerprint }), 'PX', this.retentionMs)
  }

  async releaseKey (key: string, token: string): Promise<void> {
    const value = await this.redis.get(key)
    if (value === `pending:${token}`) await this.redis.del(key)
  }
}
