// The simulated instance's own MObject model (the SOAP face's wire vocabulary, as Marketo's
// WSDL names it). Kept apart from the gateway's types so the two can disagree.

export type SyncOperation = 'INSERT' | 'UPDATE' | 'UPSERT'
export type ObjectStatus = 'CREATED' | 'UPDATED' | 'DELETED' | 'FAILED' | 'UNCHANGED' | 'SKIPPED'

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
  attribs?: Attrib[]
  typeAttribs?: TypeAttrib[]
  associations?: Association[]
}

export interface MObjStatus {
  id: number | null
  externalKey?: Attrib
  status: ObjectStatus
  error?: string
}
