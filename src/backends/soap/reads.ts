import type { Association, Attrib, MObjStatus, TypeAttrib } from '../../domain/model.js'
import type { FieldMetadata, GetMObjectsPage, GetMObjectsQuery, ObjectMetadata, ReadMObject } from '../../domain/queries.js'
import { SoapProtocolError, asArray, parseMObjStatusList } from './soap-client.js'

// Request bodies and result parsers for getMObjects, describeMObject and deleteMObjects. Like
// syncMObjectsBody, the SOAP argument is built from the internal model only, in schema order.

export type { Comparison, Criterion, GetMObjectsQuery, ReadMObject, GetMObjectsPage, FieldMetadata, ObjectMetadata } from '../../domain/queries.js'

export function getMObjectsBody (q: GetMObjectsQuery): Record<string, unknown> {
  const p: Record<string, unknown> = { type: q.type }
  if (q.id !== undefined) p.id = q.id
  if (q.externalKey !== undefined) p.externalKey = { name: q.externalKey.name, value: q.externalKey.value }
  if (q.criteria !== undefined && q.criteria.length > 0) {
    p.mObjCriteriaList = { mObjCriteria: q.criteria.map((c) => ({ attrName: c.attrName, comparison: c.comparison, attrValue: c.attrValue })) }
  }
  if (q.associations !== undefined && q.associations.length > 0) {
    p.mObjAssociationList = {
      mObjAssociation: q.associations.map((a) => {
        const assoc: Record<string, unknown> = { mObjType: a.mObjType }
        if (a.id !== undefined) assoc.id = a.id
        if (a.externalKey !== undefined) assoc.externalKey = { name: a.externalKey.name, value: a.externalKey.value }
        return assoc
      })
    }
  }
  if (q.includeDetails === true) p.includeDetails = true
  if (q.streamPosition !== undefined) p.streamPosition = q.streamPosition
  return { paramsGetMObjects: p }
}

export function describeMObjectBody (objectName: string): Record<string, unknown> {
  return { paramsDescribeMObject: { objectName } }
}

export function deleteMObjectsBody (objects: ReadonlyArray<{ type: string, id: number }>): Record<string, unknown> {
  return { paramsDeleteMObjects: { mObjectList: { mObject: objects.map((o) => ({ type: o.type, id: o.id })) } } }
}

function text (value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'object') {
    const v = value as Record<string, unknown>
    // An empty element comes back as {} (or with only attributes, e.g. xsi:nil).
    if ('$value' in v) return String(v.$value)
    return Object.keys(v).every((k) => k === '$attributes') ? '' : undefined
  }
  return String(value)
}

function timestamp (value: unknown): string | undefined {
  const t = text(value)
  if (t === undefined || t === '') return undefined
  const ms = Date.parse(t)
  return Number.isNaN(ms) ? t : new Date(ms).toISOString()
}

function int (value: unknown): number | undefined {
  const t = text(value)
  if (t === undefined || !/^\s*-?\d+\s*$/.test(t)) return undefined
  const n = Number(t)
  return Number.isSafeInteger(n) ? n : undefined
}

function bool (value: unknown): boolean {
  const t = text(value)
  return t === 'true' || t === '1'
}

function attribs (list: unknown): Attrib[] {
  return asArray((list as { attrib?: unknown } | undefined)?.attrib).map((raw) => {
    const a = raw as Record<string, unknown>
    return { name: text(a.name) ?? '', value: text(a.value) ?? '' }
  })
}

function parseMObject (raw: unknown): ReadMObject {
  const o = raw as Record<string, any>
  const id = int(o.id)
  if (id === undefined) throw new SoapProtocolError('an MObject in the answer has no id')
  const out: ReadMObject = { type: text(o.type) ?? '', id }
  if (o.externalKey !== undefined && o.externalKey !== null) out.externalKey = { name: text(o.externalKey.name) ?? '', value: text(o.externalKey.value) ?? '' }
  const createdAt = timestamp(o.createdAt)
  if (createdAt !== undefined) out.createdAt = createdAt
  const updatedAt = timestamp(o.updatedAt)
  if (updatedAt !== undefined) out.updatedAt = updatedAt
  const list = attribs(o.attribList)
  if (list.length > 0) out.attribs = list
  const typeAttribs: TypeAttrib[] = asArray(o.typeAttribList?.typeAttrib).map((t: any) => ({ attrType: text(t.attrType) ?? '', attribs: attribs(t.attrList) }))
  if (typeAttribs.length > 0) out.typeAttribs = typeAttribs
  const associations: Association[] = asArray(o.associationList?.mObjAssociation).map((a: any) => {
    const assoc: Association = { mObjType: text(a.mObjType) ?? '' }
    const aid = int(a.id)
    if (aid !== undefined) assoc.id = aid
    if (a.externalKey !== undefined && a.externalKey !== null) assoc.externalKey = { name: text(a.externalKey.name) ?? '', value: text(a.externalKey.value) ?? '' }
    return assoc
  })
  if (associations.length > 0) out.associations = associations
  return out
}

export function parseGetMObjects (result: any): GetMObjectsPage {
  const r = result?.result
  if (r === undefined || r === null) throw new SoapProtocolError('no getMObjects result in the answer')
  const objects = asArray(r.mObjectList?.mObject).map(parseMObject)
  const count = int(r.returnCount)
  if (count !== undefined && count !== objects.length) throw new SoapProtocolError(`returnCount ${count} does not match the ${objects.length} objects in the answer`)
  return { objects, hasMore: bool(r.hasMore), newStreamPosition: text(r.newStreamPosition) ?? '' }
}

export function parseDescribe (result: any): ObjectMetadata {
  const m = result?.result?.metadata
  if (m === undefined || m === null) throw new SoapProtocolError('no describeMObject metadata in the answer')
  const fields = asArray(m.fieldList?.field).map((raw: any): FieldMetadata => {
    const f: FieldMetadata = {
      name: text(raw.name) ?? '',
      dataType: text(raw.dataType) ?? 'string',
      size: int(raw.size) ?? null,
      readOnly: bool(raw.isReadonly),
      custom: bool(raw.isCustom)
    }
    const displayName = text(raw.displayName)
    if (displayName !== undefined && displayName !== '') f.displayName = displayName
    const description = text(raw.description)
    if (description !== undefined && description !== '') f.description = description
    return f
  })
  return { name: text(m.name) ?? '', fields }
}

export function parseDeleteStatuses (result: any): MObjStatus[] {
  const list = result?.result?.mObjStatusList
  if (list === undefined) throw new SoapProtocolError('no mObjStatusList in the answer')
  return parseMObjStatusList(list)
}
