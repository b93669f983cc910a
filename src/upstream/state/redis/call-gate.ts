import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { GatewayError } from '../../../domain/errors.js'
import type { CallBudget } from '../interfaces.js'
import { LuaScript, LUA_NOW_MS } from './script.js'

export type { CallBudget } from '../interfaces.js'

export interface CallGateOptions {
  redis: Redis
  /** Key namespace; every replica of one Marketo subscription must use the same one. Default 'mkto'. */
  prefix?: string
  /** Marketo: 10 calls in flight per subscription. */
  maxConcurrent: number
  /** Marketo: 100 calls per rolling 20 s; null turns the window off. */
  rate: { calls: number, windowMs: number } | null
  /**
   * How long a granted slot counts as in flight if its holder never releases it (the replica
   * died): the call timeout plus a margin for the answer's processing. Never shorter than a call
   * can last, or a slow live call would let an 11th one start.
   */
  leaseMs: number
  /** Acquires waiting in this process before new ones are refused at once (QUEUE_FULL). */
  maxQueue: number
  /**
   * Traffic classes and the share of the window and of the concurrency each may use on its own
   * (0 < share ≤ 1). Default { interactive: 1, bulk: 0.5 }: bulk work can never take the whole
   * budget away from interactive requests.
   */
  shares?: Record<string, number>
  /** Longest sleep between two tries while waiting: slots freed by other replicas are not announced. Default 50 ms. */
  pollMs?: number
  now?: () => number
  /** Redis trouble while acquiring or releasing (the gate keeps going until the caller's deadline). */
  onError?: (err: Error) => void
  /**
   * A try Redis did not answer rejects the acquire with RedisUnavailableError (at once, or with
   * `available`, once Redis counts as unavailable) instead of trying again until the deadline, so
   * a caller with a fallback (SharedCallBudget) can use it.
   */
  failFast?: boolean
  /** With failFast: Redis is known to be away (RedisHealth), so a try is not even sent. */
  available?: () => boolean
  /**
   * Beyond a burst of min(maxConcurrent, calls / 2) in the window, starts are spaced one per
   * window / calls, like the in-process limiter. Default false (the gateway turns it on).
   */
  pace?: boolean
}

/** Redis did not answer a try of the shared gate (failFast only). */
export class RedisUnavailableError extends Error {
  constructor (cause: unknown) {
    super('the shared Marketo call budget (Redis) did not answer', { cause })
    this.name = 'RedisUnavailableError'
  }
}

/** Why a try was refused; 'unavailable' means Redis did not answer. */
export type DenyReason = 'cooldown' | 'window' | 'class_window' | 'concurrency' | 'class_concurrency' | 'unavailable'

export type TryResult =
  | { granted: true, grantedAt: number, inFlight: number }
  | { granted: false, waitMs: number, reason: DenyReason, error?: Error }

export interface GateSlot {
  /** The call id holding the slot (in the window log and the lease set). */
  id: string
  /** When Redis granted the slot (Redis TIME, epoch ms). */
  grantedAt: number
  release (): void
}

const REASONS: DenyReason[] = ['cooldown', 'window', 'class_window', 'concurrency', 'class_concurrency']
// A wait for these is exact (nothing frees a slot earlier): a caller whose deadline comes first is
// told at once, like the in-process limiter does. A concurrency wait is only an upper bound (the
// earliest lease expiry; a release can come any time).
const EXACT: ReadonlySet<DenyReason> = new Set(['cooldown', 'window', 'class_window'])

// KEYS: window log, leases, cool-down, class window log, class leases, last grant (pace).
// ARGV: call id, window ms (0 = no window), calls, class calls, max concurrent, class concurrent,
// lease ms, burst (calls in the window before starts are paced; 0 = never paced).
// Returns {1, grantedAt, leasesHeld} or {0, waitMs, reasonIndex}.
const ACQUIRE = new LuaScript(`${LUA_NOW_MS}
local id = ARGV[1]
local windowMs = tonumber(ARGV[2])
local leaseMs = tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
local horizon = windowMs
if horizon <= 0 then horizon = leaseMs end
-- A call still in flight keeps its window entry however old it is: Marketo stamps a call when it
-- arrives, which may be later than the grant (a window shorter than a call can last, as in tests).
local function prune (win, leases)
  for _, old in ipairs(redis.call('ZRANGEBYSCORE', win, '-inf', now - horizon)) do
    if not redis.call('ZSCORE', leases, old) then redis.call('ZREM', win, old) end
  end
end
prune(KEYS[1], KEYS[2])
prune(KEYS[4], KEYS[5])
-- The same call id again (a resend after a timeout, or the caller's retry of an attempt whose
-- answer was lost): it already holds its slot.
local lease = redis.call('ZSCORE', KEYS[2], id)
if lease then return {1, tonumber(lease) - leaseMs, redis.call('ZCARD', KEYS[2])} end
local logged = redis.call('ZSCORE', KEYS[1], id)
if logged then return {1, tonumber(logged), redis.call('ZCARD', KEYS[2])} end
local cool = redis.call('PTTL', KEYS[3])
if cool > 0 then return {0, cool, 0} end
local function full (key, limit, span)
  local n = redis.call('ZCARD', key)
  if n < limit then return nil end
  local entry = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
  return math.max(1, tonumber(entry[2]) + span - now)
end
if windowMs > 0 then
  local w = full(KEYS[1], tonumber(ARGV[3]), windowMs)
  if w then return {0, w, 1} end
  w = full(KEYS[4], tonumber(ARGV[4]), windowMs)
  if w then return {0, w, 2} end
  -- Beyond a burst, starts are spread evenly (one per window / calls, for every replica together),
  -- as the in-process limiter does: callers then wait in the coalescer's open batches and calls go
  -- out full, instead of the whole window leaving in one burst of half-empty calls (npm run bench).
  local burst = tonumber(ARGV[8])
  if burst > 0 and redis.call('ZCARD', KEYS[1]) >= burst then
    local last = tonumber(redis.call('GET', KEYS[6]) or '0')
    local gap = math.floor(windowMs / tonumber(ARGV[3]))
    if now < last + gap then return {0, last + gap - now, 1} end
  end
end
local c = full(KEYS[2], tonumber(ARGV[5]), 0)
if c then return {0, c, 3} end
c = full(KEYS[5], tonumber(ARGV[6]), 0)
if c then return {0, c, 4} end
redis.call('ZADD', KEYS[1], now, id)
redis.call('ZADD', KEYS[4], now, id)
redis.call('ZADD', KEYS[2], now + leaseMs, id)
redis.call('ZADD', KEYS[5], now + leaseMs, id)
redis.call('PEXPIRE', KEYS[1], horizon + 1000)
redis.call('PEXPIRE', KEYS[4], horizon + 1000)
redis.call('PEXPIRE', KEYS[2], leaseMs + 1000)
redis.call('PEXPIRE', KEYS[5], leaseMs + 1000)
if windowMs > 0 then redis.call('SET', KEYS[6], now, 'PX', windowMs) end
return {1, now, redis.call('ZCARD', KEYS[2])}
`, 6)

// KEYS: window log, leases, class window log, class leases. ARGV: call id, horizon ms.
// Marketo stamps a call when it arrives, which may be after the slot was granted; moving the
// call's log entry to its answer time (never earlier than Marketo's stamp) keeps the shared window
// behind Marketo's, as the in-process limiter does. Returns 1 if a lease was held.
const RELEASE = new LuaScript(`${LUA_NOW_MS}
local had = redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[1], 'XX', 'GT', now, ARGV[1])
redis.call('ZADD', KEYS[3], 'XX', 'GT', now, ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 1000) end
if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[2]) + 1000) end
return had
`, 4)

// KEYS: cool-down. ARGV: ms, code. Never shortens a longer cool-down already set by a replica.
// Returns {now, remaining ms}.
const COOL_DOWN = new LuaScript(`${LUA_NOW_MS}
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], ARGV[2], 'PX', ms) end
return {now, redis.call('PTTL', KEYS[1])}
`, 1)

// KEYS: a window log. ARGV: window ms. The calls logged in the last window (Redis time).
const USED = new LuaScript(`${LUA_NOW_MS}
return redis.call('ZCOUNT', KEYS[1], now - tonumber(ARGV[1]), '+inf')
`, 1)

const CLASS_NAME = /^[a-z0-9_-]{1,32}$/

interface Waiter {
  wake: () => void
}

interface Turn {
  wake: () => void
}

/**
 * Marketo's call limits shared by every replica: a true rolling window (a log of call ids scored
 * by Redis TIME, so replica clocks never matter), concurrency leases that expire (a dead replica's
 * slots come back after leaseMs instead of never), a shared cool-down after Marketo says 20023 /
 * 20024 (REST 606 / 615), and per-class shares. Each try is one Lua script, atomic and safe to run
 * twice for the same call id.
 *
 * Waiting is by polling (min(wait, pollMs)): there is no cross-replica queue, so waiters are not
 * served in FIFO order across replicas.
 */
export class RedisCallGate implements CallBudget {
  private readonly redis: Redis
  private readonly now: () => number
  private readonly pollMs: number
  private readonly shares: Record<string, number>
  private readonly keys: { win: string, lease: string, cool: string, pace: string }
  private held = 0
  private avgHoldMs = 0
  private waiting = 0
  private lastWaitMs = 0
  private closed = false
  private readonly waiters = new Set<Waiter>()
  private readonly lines = new Map<string, Turn[]>()
  rejected = 0

  constructor (private readonly opts: CallGateOptions) {
    this.redis = opts.redis
    this.now = opts.now ?? Date.now
    this.pollMs = opts.pollMs ?? 50
    this.shares = opts.shares ?? { interactive: 1, bulk: 0.5 }
    for (const [name, share] of Object.entries(this.shares)) {
      if (!CLASS_NAME.test(name)) throw new Error(`traffic class name ${JSON.stringify(name)} must match ${CLASS_NAME}`)
      if (!(share > 0 && share <= 1)) throw new Error(`share of traffic class ${name} must be in (0, 1], got ${share}`)
    }
    if (opts.leaseMs <= 0 || opts.maxConcurrent < 1) throw new Error('leaseMs and maxConcurrent must be positive')
    const tag = `{${opts.prefix ?? 'mkto'}:gate}`
    this.keys = { win: `${tag}:win`, lease: `${tag}:lease`, cool: `${tag}:cool`, pace: `${tag}:pace` }
  }

  get inFlight (): number { return this.held }
  get queueDepth (): number { return this.waiting }

  /**
   * The wait the last refused try reported (0 after a grant; for a concurrency refusal, the recent
   * hold time of this process's calls): a cheap, synchronous estimate for Retry-After.
   */
  estimatedWaitMs (): number { return this.lastWaitMs }

  acquire (latestStart: number, trafficClass = 'interactive'): Promise<() => void> {
    return this.acquireSlot(latestStart, trafficClass).then((slot) => slot.release)
  }

  /** Like acquire, with the call id and Redis's grant time (metrics, tests). */
  async acquireSlot (latestStart: number, trafficClass = 'interactive'): Promise<GateSlot> {
    if (this.closed) throw shuttingDown()
    this.classKeys(trafficClass)
    if (this.waiting >= this.opts.maxQueue) {
      this.rejected++
      throw new GatewayError('QUEUE_FULL', 'too many Marketo calls are waiting; retry later', { retryAfterMs: this.lastWaitMs })
    }
    const id = randomUUID()
    // Set when a try failed in transit: Redis may have granted it, so the slot is released if the
    // caller gives up (the lease would free it anyway, after leaseMs).
    let uncertain = false
    let queued = false
    // This process's callers of one class take turns (FIFO), as with the in-process limiter: only
    // the head polls Redis. Without it a coalesced batch that is still filling could win a freed
    // slot over a full batch that has waited longer (npm run bench, 2 replicas).
    const line = this.line(trafficClass)
    const turn: Turn = { wake: () => {} }
    line.push(turn)
    try {
      if (line[0] !== turn) {
        queued = true
        this.waiting++
        await this.waitTurn(turn, latestStart)
      }
      for (;;) {
        if (this.closed) throw shuttingDown()
        if (this.opts.failFast === true && this.opts.available !== undefined && !this.opts.available()) {
          if (uncertain) this.releaseId(id, trafficClass)
          throw new RedisUnavailableError(new Error('Redis is unavailable'))
        }
        const r = await this.tryAcquire(id, trafficClass)
        if (this.closed) {
          if (r.granted || r.reason === 'unavailable') this.releaseId(id, trafficClass)
          throw shuttingDown()
        }
        if (r.granted) {
          this.lastWaitMs = 0
          return this.slot(id, trafficClass, r.grantedAt)
        }
        // A definite refusal of this id proves no earlier try of it was granted (the script is
        // idempotent per id); only a try lost in transit leaves the outcome open.
        uncertain = r.reason === 'unavailable'
        // failFast: a try lost in transit is tried again while Redis still counts as available
        // (one slow answer is not an outage); once it does not, the caller's fallback takes over.
        if (uncertain && this.opts.failFast === true && (this.opts.available === undefined || !this.opts.available())) {
          // The lease frees the slot anyway if Redis did grant it and the release is lost too.
          this.releaseId(id, trafficClass)
          throw new RedisUnavailableError(r.error)
        }
        if (EXACT.has(r.reason)) this.lastWaitMs = r.waitMs
        // A concurrency wait is the earliest lease expiry, far later than a release usually comes:
        // estimate with the recent hold time instead, as the in-process limiter does.
        else if (!uncertain) this.lastWaitMs = this.avgHoldMs > 0 ? Math.min(r.waitMs, Math.round(this.avgHoldMs)) : r.waitMs
        const now = this.now()
        if (EXACT.has(r.reason) && now + r.waitMs > latestStart) {
          this.rejected++
          throw new GatewayError('RATE_LIMITED', r.reason === 'cooldown'
            ? 'Marketo asked for a pause (rate or concurrency limit) lasting past this request\'s deadline'
            : 'the Marketo call budget is used up until after this request\'s deadline', { retryAfterMs: r.waitMs })
        }
        if (now >= latestStart) {
          this.rejected++
          if (uncertain) this.releaseId(id, trafficClass)
          throw new GatewayError('RATE_LIMITED', r.reason === 'unavailable'
            ? 'the shared Marketo call budget (Redis) did not answer before this request\'s deadline'
            : 'waited too long for a Marketo call slot', { retryAfterMs: Math.max(r.waitMs, 1_000) })
        }
        if (!queued) {
          queued = true
          this.waiting++
        }
        await this.sleep(Math.max(1, Math.min(r.waitMs, this.pollMs, latestStart - now)))
        if (this.closed) {
          if (uncertain) this.releaseId(id, trafficClass)
          throw shuttingDown()
        }
      }
    } finally {
      if (queued) this.waiting--
      const i = line.indexOf(turn)
      if (i !== -1) line.splice(i, 1)
      if (i === 0 && line.length > 0) line[0].wake()
    }
  }

  private line (trafficClass: string): Turn[] {
    let line = this.lines.get(trafficClass)
    if (line === undefined) {
      line = []
      this.lines.set(trafficClass, line)
    }
    return line
  }

  // Resolves when turn is at the head of its line; rejects when its caller's latest start passes.
  private waitTurn (turn: Turn, latestStart: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.rejected++
        reject(new GatewayError('RATE_LIMITED', 'waited too long for a Marketo call slot', { retryAfterMs: Math.max(this.lastWaitMs, 1_000) }))
      }, Math.max(0, latestStart - this.now()))
      turn.wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
  }

  /** One try: one script run. Running it again with the same id returns the same grant. */
  async tryAcquire (id: string, trafficClass = 'interactive'): Promise<TryResult> {
    const cls = this.classKeys(trafficClass)
    const share = this.shares[trafficClass]
    const rate = this.opts.rate
    const c = this.opts.maxConcurrent
    let reply: unknown
    try {
      reply = await ACQUIRE.run(this.redis, [this.keys.win, this.keys.lease, this.keys.cool, cls.win, cls.lease, this.keys.pace], [
        id,
        rate?.windowMs ?? 0,
        rate?.calls ?? 0,
        rate === null ? 0 : Math.max(1, Math.floor(share * rate.calls)),
        c,
        Math.max(1, Math.floor(share * c)),
        this.opts.leaseMs,
        rate === null || this.opts.pace !== true ? 0 : Math.max(1, Math.floor(Math.min(c, rate.calls / 2)))
      ])
    } catch (err) {
      this.opts.onError?.(err as Error)
      return { granted: false, waitMs: this.pollMs, reason: 'unavailable', error: err as Error }
    }
    const [flag, value, extra] = reply as [number, number, number]
    if (flag === 1) return { granted: true, grantedAt: value, inFlight: extra }
    return { granted: false, waitMs: value, reason: REASONS[extra] }
  }

  /**
   * Pauses every replica's calls for ms, after Marketo answered 20023 / 20024 (REST 606 / 615).
   * Returns when the pause ends, in Redis time.
   */
  async coolDown (code: number, ms: number): Promise<{ setAt: number, until: number }> {
    const [now, left] = await COOL_DOWN.run(this.redis, [this.keys.cool], [Math.max(1, Math.ceil(ms)), code]) as [number, number]
    return { setAt: now, until: now + Math.max(0, left) }
  }

  /** Calls of this traffic class in the current window, across every replica (0 without a window). */
  async used (trafficClass: string): Promise<number> {
    const rate = this.opts.rate
    if (rate === null) return 0
    return Number(await USED.run(this.redis, [this.classKeys(trafficClass).win], [rate.windowMs]))
  }

  /** Rejects every waiting acquire with SHUTTING_DOWN; the Redis connection is the caller's. */
  close (): void {
    this.closed = true
    for (const w of this.waiters) w.wake()
    for (const line of this.lines.values()) for (const t of line) t.wake()
  }

  private slot (id: string, trafficClass: string, grantedAt: number): GateSlot {
    this.held++
    const started = this.now()
    let released = false
    return {
      id,
      grantedAt,
      release: () => {
        if (released) return
        released = true
        this.held--
        const heldMs = this.now() - started
        this.avgHoldMs = this.avgHoldMs === 0 ? heldMs : this.avgHoldMs * 0.8 + heldMs * 0.2
        this.releaseId(id, trafficClass)
      }
    }
  }

  private releaseId (id: string, trafficClass: string): void {
    const cls = this.classKeys(trafficClass)
    const horizon = this.opts.rate?.windowMs ?? this.opts.leaseMs
    RELEASE.run(this.redis, [this.keys.win, this.keys.lease, cls.win, cls.lease], [id, horizon])
      .catch((err: Error) => this.opts.onError?.(err))
  }

  private classKeys (trafficClass: string): { win: string, lease: string } {
    if (this.shares[trafficClass] === undefined) throw new Error(`unknown traffic class ${JSON.stringify(trafficClass)}`)
    return { win: `${this.keys.win}:${trafficClass}`, lease: `${this.keys.lease}:${trafficClass}` }
  }

  private sleep (ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(timer)
          this.waiters.delete(waiter)
          resolve()
        }
      }
      const timer = setTimeout(waiter.wake, ms)
      this.waiters.add(waiter)
    })
  }
}

function shuttingDown (): GatewayError {
  return new GatewayError('SHUTTING_DOWN', 'the gateway is shutting down')
}
