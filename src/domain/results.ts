import type { GatewayError } from './errors.js'
import type { Attrib, MObject, MObjStatus, MarketoStatus } from './model.js'

export type ObjectStatus = 'created' | 'updated' | 'unchanged' | 'skipped' | 'failed' | 'deleted' | 'unknown' | 'not_applied'

export interface ObjectResult {
  index: number
  id: number | null
  externalKey?: Attrib
  marketoGUID?: string
  status: ObjectStatus
  error?: { code: string, message: string }
}

export interface Summary {
  total: number
  created: number
  updated: number
  unchanged: number
  skipped: number
  failed: number
  deleted: number
  unknown: number
  notApplied: number
}

const STATUS_MAP: Record<MarketoStatus, ObjectStatus> = {
  CREATED: 'created',
  UPDATED: 'updated',
  UNCHANGED: 'unchanged',
  SKIPPED: 'skipped',
  FAILED: 'failed',
  DELETED: 'deleted'
}

export function fromMarketoStatus (index: number, sent: MObject, s: MObjStatus): ObjectResult {
  const result: ObjectResult = { index, id: s.id ?? sent.id ?? null, status: STATUS_MAP[s.status] }
  const externalKey = s.externalKey ?? sent.externalKey
  if (externalKey !== undefined) result.externalKey = { name: externalKey.name, value: externalKey.value }
  const guid = s.marketoGUID ?? sent.marketoGUID
  if (guid !== undefined) result.marketoGUID = guid
  if (s.status === 'FAILED') result.error = { code: 'MARKETO_OBJECT_FAILED', message: s.error ?? 'Marketo reported a failure without a reason' }
  // Marketo's reason for a skip (REST: "Lead not found (1004)"), when it gave one.
  if (s.status === 'SKIPPED' && s.error !== undefined) result.error = { code: 'MARKETO_OBJECT_SKIPPED', message: s.error }
  return result
}

// Objects of a call that produced no trustworthy answer: `unknown` when bytes reached Marketo,
// `not_applied` when the call was never sent or Marketo rejected it before applying anything.
export function fromCallError (index: number, sent: MObject, err: GatewayError): ObjectResult {
  const result: ObjectResult = { index, id: sent.id ?? null, status: err.sent ? 'unknown' : 'not_applied', error: { code: err.code, message: err.message } }
  if (sent.externalKey !== undefined) result.externalKey = { name: sent.externalKey.name, value: sent.externalKey.value }
  if (sent.marketoGUID !== undefined) result.marketoGUID = sent.marketoGUID
  return result
}

export function summarize (results: ObjectResult[]): Summary {
  const s: Summary = { total: results.length, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0, deleted: 0, unknown: 0, notApplied: 0 }
  for (const r of results) {
    if (r.status === 'not_applied') s.notApplied++
    else s[r.status]++
  }
  return s
}
