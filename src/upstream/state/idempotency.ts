// Storage behind the Idempotency-Key handling. The default keeps records in this process's memory:
// a restart forgets every key, so a retry after a restart is processed anew (README).

export interface StoredResponse {
  statusCode: number
  contentType: string
  retryAfter?: string
  body: string
}

export interface IdempotencyRecord {
  fingerprint: string
  expiresAt: number
  response?: StoredResponse
}

export interface IdempotencyStore {
  get (key: string): IdempotencyRecord | undefined
  // Claims the key for a request in flight; false when another request holds or completed it.
  begin (key: string, fingerprint: string, ttlMs: number): boolean
  complete (key: string, response: StoredResponse, ttlMs: number): void
  release (key: string): void
}

export class MemoryIdempotencyStore implements IdempotencyStore {
  private readonly records = new Map<string, IdempotencyRecord>()

  constructor (private readonly maxEntries: number, private readonly now: () => number = Date.now) {}

  get size (): number { return this.records.size }

  get (key: string): IdempotencyRecord | undefined {
    const record = this.records.get(key)
    if (record === undefined) return undefined
    if (record.expiresAt <= this.now()) {
      this.records.delete(key)
      return undefined
    }
    return record
  }

  begin (key: string, fingerprint: string, ttlMs: number): boolean {
    if (this.get(key) !== undefined) return false
    this.evict()
    this.records.set(key, { fingerprint, expiresAt: this.now() + ttlMs })
    return true
  }

  complete (key: string, response: StoredResponse, ttlMs: number): void {
    const record = this.records.get(key)
    if (record === undefined) return
    record.response = response
    record.expiresAt = this.now() + ttlMs
  }

  release (key: string): void {
    const record = this.records.get(key)
    if (record !== undefined && record.response === undefined) this.records.delete(key)
  }

  // Bounded: expired records go first, then the oldest completed ones (Map keeps insertion order).
  // Records in flight are never evicted, so a key cannot be processed twice at once.
  private evict (): void {
    if (this.records.size < this.maxEntries) return
    const now = this.now()
    for (const [key, record] of this.records) {
      if (record.expiresAt <= now) this.records.delete(key)
    }
    for (const [key, record] of this.records) {
      if (this.records.size < this.maxEntries) break
      if (record.response !== undefined) this.records.delete(key)
    }
  }
}
