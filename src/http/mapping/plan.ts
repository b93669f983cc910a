import type { Attrib, SyncOperation, MObject } from '../../domain/model.js'
import type { ExternalKey, RestOperation } from '../schemas/common.js'
import { toMarketoValue, type FieldValue } from './values.js'

export interface SyncPlan {
  operation: SyncOperation
  objects: MObject[]
}

const SYNC_OPERATIONS: Record<RestOperation, SyncOperation> = { insert: 'INSERT', update: 'UPDATE', upsert: 'UPSERT' }

export function toSyncOperation (operation: RestOperation): SyncOperation {
  return SYNC_OPERATIONS[operation]
}

export function attrib (name: string, value: FieldValue): Attrib {
  return { name, value: toMarketoValue(value) }
}

// Copied field by field: caller objects never reach strong-soap, which reads keys like `$xml`.
export function externalKeyAttrib (key: ExternalKey): Attrib {
  return { name: key.name, value: key.value }
}

/** Attribs for the fields of `source` listed in `fields`, in the table's order. */
export function tableAttribs (source: object, fields: ReadonlyArray<{ key: string, marketo: string }>): Attrib[] {
  const values = source as Record<string, FieldValue | undefined>
  const out: Attrib[] = []
  for (const f of fields) {
    if (!Object.hasOwn(values, f.key)) continue
    const v = values[f.key]
    if (v !== undefined) out.push(attrib(f.marketo, v))
  }
  return out
}

/** Attribs for a `{ name: value }` map, in the caller's order. */
export function mapAttribs (map: Record<string, FieldValue>): Attrib[] {
  return Object.keys(map).map(name => attrib(name, map[name]))
}
