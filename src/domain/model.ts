// The Marketo MObject model as the gateway and the simulator see it: plain data, no SOAP shapes.
// Every value travels as a string (CONTRACT.md §3); the mappers do the conversion.

export type SyncOperation = 'INSERT' | 'UPDATE' | 'UPSERT'
export type MarketoStatus = 'CREATED' | 'UPDATED' | 'DELETED' | 'FAILED' | 'UNCHANGED' | 'SKIPPED'

export interface Attrib {
  name: string
  value: string
}

export interface TypeAttrib {
  attrType: string
  attribs: Attrib[]
}

export interface Association {
  mObjType: string
  id?: number
  externalKey?: Attrib
}

export interface MObject {
  type: string
  id?: number
  externalKey?: Attrib
  /** REST only: Marketo's GUID of an existing opportunity (the SOAP backend refuses it). */
  marketoGUID?: string
  attribs?: Attrib[]
  typeAttribs?: TypeAttrib[]
  associations?: Association[]
  /**
   * A Program's cost lines in this write replace all of its existing ones (REST's
   * costsDestructiveUpdate); the SOAP backend refuses it.
   */
  replaceCosts?: boolean
}

export interface MObjStatus {
  id: number | null
  externalKey?: Attrib
  /** REST only: the record's GUID. */
  marketoGUID?: string
  status: MarketoStatus
  error?: string
}

export interface MarketoCredentials {
  userId: string
  encryptionKey: string
}

/**
 * Whether a write can be repeated without changing its effect, so that it may be re-sent after
 * an unknown outcome: UPDATE of objects named by id, without cost lines that would be appended
 * again (cost lines that replace all others leave the same lines however often they are sent).
 */
export function isIdempotentWrite (operation: SyncOperation, objects: readonly MObject[]): boolean {
  if (operation !== 'UPDATE') return false
  return objects.every((o) => o.id !== undefined && (o.replaceCosts === true ||
    (o.typeAttribs ?? []).every((t) => t.attrType !== 'Cost' || t.attribs.some((a) => a.name === 'Id'))))
}
