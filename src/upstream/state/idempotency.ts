import { createHash, randomUUID } from 'node:crypto'

// Storage behind the Idempotency-Key handling. The interface is asynchronous and its semantics are
// those of a store shared by several replicas (src/upstream/state/redis/idempotency-store.ts): a
// claim is owned by a token and held by a lease, so a replica that dies mid-request does not block
// its key for the record's whole lifetime, and a late write by that dead owner is refused (fenced).
// The default keeps records in this process's memory: a restart forgets every key, so a retry
// after a restart is processed anew (README).

export interface StoredResponse {
  statusCode: number
  contentType: string
  retryAfter?: string
  body: string
}

/**
 * What a store keeps instead of a response too large for it (Redis store: over its compressed-size
 * cap). A replay cannot repeat the first answer; the plugin answers 409
 * IDEMPOTENCY_RESPONSE_TOO_LARGE naming the first answer's status, so the caller knows the request
 * was processed and must read back instead of re-sending.
 */
export interface OmittedResponse {
  omitted: 'too_large'
  statusCode: number
  contentType: string
  /** Compressed size in bytes that exceeded the cap. */
  size: number
}

export interface ClaimOptions {
  /** How long the claim holds without renew(): a dead owner's key frees after this. */
  leaseMs: number
  /** The record's lifetime, counted from the claim (never the lease). */
  ttlMs: number
  /** Token to claim with (a retried claim with the same token gets the same claim back). */
  token?: string
}

export type ClaimResult =
  /** The key is new: process the request, then complete() or release() with the token. */
  | { kind: 'claimed', token: string }
  /** The key was claimed with another request fingerprint (→ 422). */
  | { kind: 'mismatch' }
  /** The first request finished: replay its response. */
  | { kind: 'done', response: StoredResponse | OmittedResponse }
  /** Another owner holds a live lease (→ 409 with Retry-After). */
  | { kind: 'in_flight', retryAfterMs: number }
  /** The previous owner's lease expired before it called Marketo: this request now owns the key. */
  | { kind: 'takeover', token: string }
  /** The previous owner's lease expired while its Marketo call was in flight: nobody knows the outcome. */
  | { kind: 'outcome_unknown' }

export type CompleteResult = 'stored' | 'omitted' | 'fenced'

export interface IdempotencyStore {
  /** Atomically: claim a new (or abandoned, never-called) key, or report what holds it. */
  claim (key: string, fingerprint: string, opts: ClaimOptions): Promise<ClaimResult>
  /**
   * Records, before the Marketo call, that from now on an expired lease means "outcome unknown"
   * rather than "take over". False if the token no longer owns a live claim: do not call.
   */
  markCalling (key: string, token: string): Promise<boolean>
  /** Stores the response; 'fenced' when the token no longer owns the claim (nothing written). */
  complete (key: string, token: string, response: StoredResponse): Promise<CompleteResult>
  /** Drops an in-flight claim owned by token (nothing was answered); false if fenced. */
  release (key: string, token: string): Promise<boolean>
  /** Extends the lease of an in-flight claim owned by token; false if fenced. */
  renew (key: string, token: string, leaseMs: number): Promise<boolean>
}

/**
 * The storage key for an Idempotency-Key: scoped to the caller's API key name, and hashed, so the
 * client's key (which may carry meaning for the client) is neither stored nor logged as sent.
 */
export function idempotencyKeyOf (callerKeyName: string, idempotencyKey: string): string {
  return `${encodeURIComponent(callerKeyName)}:${createHash('sha256').update(idempotencyKey).digest('hex')}`
}

interface MemoryRecord {
  fingerprint: string
  state: 'in_flight' | 'done'
  token: string
  phase: 'claimed' | 'calling'
  leaseUntil: number
  expiresAt: number
  response?: StoredResponse
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly records = new Map<string, MemoryRecord>()

  constructor (private readonly maxEntries: number, private readonly now: () => number = Date.now) {}

  get size (): number { return this.records.size }

  async claim (key: string, fingerprint: string, opts: ClaimOptions): Promise<ClaimResult> {
    const now = this.now()
    const token = opts.token ?? randomUUID()
    const record = this.live(key, now)
    if (record === undefined) {
      this.evict(now)
      this.records.set(key, { fingerprint, state: 'in_flight', token, phase: 'claimed', leaseUntil: now + opts.leaseMs, expiresAt: now + opts.ttlMs })
      return { kind: 'claimed', token }
    }
    if (record.fingerprint !== fingerprint) return { kind: 'mismatch' }
    if (record.state === 'done') return { kind: 'done', response: record.response as StoredResponse }
    if (record.token === token) return { kind: 'claimed', token }
    if (record.leaseUntil > now) return { kind: 'in_flight', retryAfterMs: record.leaseUntil - now }
    if (record.phase === 'calling') return { kind: 'outcome_unknown' }
    record.token = token
    record.phase = 'claimed'
    record.leaseUntil = now + opts.leaseMs
    record.expiresAt = now + opts.ttlMs
    return { kind: 'takeover', token }
  }

  async markCalling (key: string, token: string): Promise<boolean> {
    const now = this.now()
    const record = this.owned(key, token, now)
    if (record === undefined || record.leaseUntil <= now) return false
    record.phase = 'calling'
    return true
  }

  async complete (key: string, token: string, response: StoredResponse): Promise<CompleteResult> {
    const record = this.owned(key, token, this.now())
    if (record === undefined) return 'fenced'
    record.state = 'done'
    record.response = response
    return 'stored'
  }

  async release (key: string, token: string): Promise<boolean> {
    if (this.owned(key, token, this.now()) === undefined) return false
    this.records.delete(key)
    return true
  }

  async renew (key: string, token: string, leaseMs: number): Promise<boolean> {
    const now = this.now()
    const record = this.owned(key, token, now)
    if (record === undefined) return false
    record.leaseUntil = now + leaseMs
    return true
  }

  private live (key: string, now: number): MemoryRecord | undefined {
    const record = this.records.get(key)
    if (record === undefined) return undefined
    if (record.expiresAt <= now) {
      this.records.delete(key)
      return undefined
    }
    return record
  }

  private owned (key: string, token: string, now: number): MemoryRecord | undefined {
    const record = this.live(key, now)
    return record !== undefined && record.state === 'in_flight' && record.token === token ? record : undefined
  }

  // Bounded: expired records go first, then the oldest completed ones (Map keeps insertion order).
  // Records in flight are never evicted, so a key cannot be processed twice at once.
  private evict (now: number): void {
    if (this.records.size < this.maxEntries) return
    for (const [key, record] of this.records) {
      if (record.expiresAt <= now) this.records.delete(key)
    }
    for (const [key, record] of this.records) {
      if (this.records.size < this.maxEntries) break
      if (record.state === 'done') this.records.delete(key)
    }
  }
}
