import { randomUUID } from 'node:crypto'
import { deflateRawSync, inflateRawSync } from 'node:zlib'
import type { Redis } from 'ioredis'
import type { ClaimOptions, ClaimResult, CompleteResult, IdempotencyStore, OmittedResponse, StoredResponse } from '../idempotency.js'
import { LuaScript, LUA_NOW_MS } from './script.js'

export interface RedisIdempotencyStoreOptions {
  redis: Redis
  /** Key namespace, shared by the replicas serving one set of API keys. Default 'mkto'. */
  prefix?: string
  /**
   * Largest stored response, compressed (bytes). A larger one is kept as a marker with its status
   * only (see OmittedResponse): one huge answer must not fill Redis, whose noeviction policy would
   * then refuse every claim. Default 1 MiB.
   */
  maxResponseBytes?: number
}

/*
 * A record is one hash, its TTL set at the claim and never shortened to a lease:
 *   fp     request fingerprint
 *   state  in_flight | done
 *   token  the owner's token (fencing: every write checks it)
 *   phase  claimed | calling (calling is written before the Marketo call)
 *   lease  epoch ms (Redis TIME) until which the owner is presumed alive
 *   resp   base64 of the raw-deflated JSON StoredResponse (state done)
 *   omit   JSON OmittedResponse instead of resp (state done, response over the cap)
 * Every transition is one script, so two replicas can never both own a key.
 */

// KEYS: record. ARGV: fingerprint, token, lease ms, ttl ms.
const CLAIM = new LuaScript(`${LUA_NOW_MS}
local r = redis.call('HMGET', KEYS[1], 'fp', 'state', 'token', 'phase', 'lease', 'resp', 'omit')
local leaseMs = tonumber(ARGV[3])
if not r[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'state', 'in_flight', 'token', ARGV[2], 'phase', 'claimed', 'lease', now + leaseMs)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {'claimed', ARGV[2]}
end
if r[1] ~= ARGV[1] then return {'mismatch'} end
if r[2] == 'done' then return {'done', r[6] or '', r[7] or ''} end
-- The same owner claiming again (its first answer was lost in transit): it still owns the key.
if r[3] == ARGV[2] then return {'claimed', ARGV[2]} end
local lease = tonumber(r[5])
if lease > now then return {'in_flight', lease - now} end
if r[4] == 'calling' then return {'outcome_unknown'} end
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'phase', 'claimed', 'lease', now + leaseMs)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {'takeover', ARGV[2]}
`, 1)

// Every fenced script starts by checking that the token owns an in-flight record.
const OWNED = `local r = redis.call('HMGET', KEYS[1], 'state', 'token', 'lease')
if r[1] ~= 'in_flight' or r[2] ~= ARGV[1] then return 0 end
`

// KEYS: record. ARGV: token. Only with a live lease: once it has expired another replica may be
// taking over, and this owner must not start a call.
const MARK_CALLING = new LuaScript(`${LUA_NOW_MS}${OWNED}
if tonumber(r[3]) <= now then return 0 end
redis.call('HSET', KEYS[1], 'phase', 'calling')
return 1
`, 1)

// KEYS: record. ARGV: token, field (resp | omit), value. The TTL stays the claim's.
const COMPLETE = new LuaScript(`${OWNED}
redis.call('HSET', KEYS[1], 'state', 'done', ARGV[2], ARGV[3])
redis.call('HDEL', KEYS[1], 'lease')
return 1
`, 1)

// KEYS: record. ARGV: token.
const RELEASE = new LuaScript(`${OWNED}
redis.call('DEL', KEYS[1])
return 1
`, 1)

// KEYS: record. ARGV: token, lease ms.
const RENEW = new LuaScript(`${LUA_NOW_MS}${OWNED}
redis.call('HSET', KEYS[1], 'lease', now + tonumber(ARGV[2]))
return 1
`, 1)

/**
 * Idempotency records shared by every replica, so that a retry reaching another replica (or the
 * same one after a restart) is replayed instead of sent to Marketo a second time. Leases use
 * Redis TIME, so replica clocks do not matter.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  private readonly redis: Redis
  private readonly prefix: string
  private readonly maxResponseBytes: number

  constructor (opts: RedisIdempotencyStoreOptions) {
    this.redis = opts.redis
    this.prefix = `${opts.prefix ?? 'mkto'}:idem:`
    this.maxResponseBytes = opts.maxResponseBytes ?? 1024 * 1024
  }

  /** The Redis key of a record (tests, operations). */
  redisKey (key: string): string { return this.prefix + key }

  async claim (key: string, fingerprint: string, opts: ClaimOptions): Promise<ClaimResult> {
    const token = opts.token ?? randomUUID()
    const reply = await CLAIM.run(this.redis, [this.redisKey(key)], [fingerprint, token, Math.max(1, Math.ceil(opts.leaseMs)), Math.max(1, Math.ceil(opts.ttlMs))]) as [string, string | number, string]
    switch (reply[0]) {
      case 'claimed': return { kind: 'claimed', token: String(reply[1]) }
      case 'takeover': return { kind: 'takeover', token: String(reply[1]) }
      case 'mismatch': return { kind: 'mismatch' }
      case 'in_flight': return { kind: 'in_flight', retryAfterMs: Number(reply[1]) }
      case 'outcome_unknown': return { kind: 'outcome_unknown' }
      case 'done': return { kind: 'done', response: decodeResponse(String(reply[1]), reply[2]) }
      default: throw new Error(`unexpected claim reply ${String(reply[0])}`)
    }
  }

  async markCalling (key: string, token: string): Promise<boolean> {
    return await MARK_CALLING.run(this.redis, [this.redisKey(key)], [token]) === 1
  }

  async complete (key: string, token: string, response: StoredResponse): Promise<CompleteResult> {
    const packed = deflateRawSync(JSON.stringify(response))
    const omitted = packed.length > this.maxResponseBytes
    const value = omitted
      ? JSON.stringify({ omitted: 'too_large', statusCode: response.statusCode, contentType: response.contentType, size: packed.length } satisfies OmittedResponse)
      : packed.toString('base64')
    const ok = await COMPLETE.run(this.redis, [this.redisKey(key)], [token, omitted ? 'omit' : 'resp', value]) === 1
    if (!ok) return 'fenced'
    return omitted ? 'omitted' : 'stored'
  }

  async release (key: string, token: string): Promise<boolean> {
    return await RELEASE.run(this.redis, [this.redisKey(key)], [token]) === 1
  }

  async renew (key: string, token: string, leaseMs: number): Promise<boolean> {
    return await RENEW.run(this.redis, [this.redisKey(key)], [token, Math.max(1, Math.ceil(leaseMs))]) === 1
  }
}

function decodeResponse (resp: string, omit: string): StoredResponse | OmittedResponse {
  if (omit !== '') return JSON.parse(omit) as OmittedResponse
  return JSON.parse(inflateRawSync(Buffer.from(resp, 'base64')).toString('utf8')) as StoredResponse
}
