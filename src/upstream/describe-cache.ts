import { GatewayError } from '../domain/errors.js'
import type { ObjectMetadata } from '../domain/queries.js'
import type { CallLog } from './executor.js'

export interface DescribeSource {
  describe (objectName: string, deadline: number, log: CallLog): Promise<ObjectMetadata>
}

export interface CachedMetadata extends ObjectMetadata {
  fetchedAt: string
}

interface Entry {
  value?: CachedMetadata
  expiresAt: number
  pending?: Promise<CachedMetadata>
}

// describeMObject answers change only when an admin adds a field, so one call per type per TTL
// is enough. Concurrent misses share one call; a failed call is not cached.
export class DescribeCache {
  private readonly entries = new Map<string, Entry>()
  private readonly now: () => number

  constructor (private readonly source: DescribeSource, private readonly ttlMs: number, now?: () => number) {
    this.now = now ?? Date.now
  }

  async get (objectName: string, deadline: number, log: CallLog): Promise<CachedMetadata> {
    const entry = this.entries.get(objectName)
    if (entry?.value !== undefined && entry.expiresAt > this.now()) return entry.value
    if (entry?.pending !== undefined) return await entry.pending
    const pending = this.source.describe(objectName, deadline, log).then((m) => ({ ...m, fetchedAt: new Date(this.now()).toISOString() }))
    const next: Entry = { value: entry?.value, expiresAt: entry?.expiresAt ?? 0, pending }
    this.entries.set(objectName, next)
    try {
      const value = await pending
      if (this.ttlMs > 0) this.entries.set(objectName, { value, expiresAt: this.now() + this.ttlMs })
      else this.entries.delete(objectName)
      return value
    } catch (err) {
      if (this.entries.get(objectName) === next) {
        if (entry?.value !== undefined) this.entries.set(objectName, entry)
        else this.entries.delete(objectName)
      }
      throw err
    }
  }

  clear (): void {
    this.entries.clear()
  }
}

export interface NamedField {
  /** JSON Pointer into the request body, e.g. /opportunities/0/customFields/Region__c */
  path: string
  name: string
}

/**
 * The Opportunity field names of one written object that only the describe can check
 * (VALIDATE_CUSTOM_FIELDS): an opportunity's customFields, or the attributes of an Opportunity
 * MObject; `at` is the object's path in the caller's body.
 */
export function describedFields (o: { customFields?: object, type?: string, attributes?: object }, at: string): NamedField[] {
  const under = o.customFields !== undefined ? 'customFields' : o.type === 'Opportunity' ? 'attributes' : undefined
  if (under === undefined) return []
  return Object.keys((under === 'customFields' ? o.customFields : o.attributes) ?? {}).map((name) => ({ path: `${at}/${under}/${name}`, name }))
}

/** A 400 naming every field `objectName` does not have in Marketo, before any write is sent. */
export async function checkCustomFields (cache: DescribeCache, objectName: string, fields: readonly NamedField[], deadline: number, log: CallLog): Promise<void> {
  if (fields.length === 0) return
  const meta = await cache.get(objectName, deadline, log)
  const known = new Set(meta.fields.map((f) => f.name))
  const unknown = fields.filter((f) => !known.has(f.name))
  if (unknown.length === 0) return
  const names = [...new Set(unknown.map((f) => f.name))]
  throw new GatewayError('VALIDATION_FAILED', `unknown ${objectName} fields: ${names.join(', ')}`, {
    errors: unknown.map((f) => ({ path: f.path, message: `is not a field of ${objectName} in Marketo (describeMObject)` }))
  })
}
