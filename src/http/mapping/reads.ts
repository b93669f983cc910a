import type { Attrib } from '../../domain/model.js'
import type { FieldMetadata, ReadMObject } from '../../domain/queries.js'
import { OPPORTUNITY_FIELDS, ROLE_FIELDS, type FieldKind } from '../../domain/fields.js'
import { fromMarketoValue, type FieldValue } from './values.js'

// MObjects as getMObjects returns them -> the JSON the write routes accept (same names, same
// types): numbers as numbers, booleans as booleans, dates as YYYY-MM-DD. Pure; malformed
// upstream values throw a RangeError (the route answers 502, never a silent null).

export interface OpportunityOut {
  id: number | null
  marketoGUID?: string
  externalKey?: Attrib
  [field: string]: unknown
  customFields: Record<string, FieldValue>
  company?: { id: number } | { externalKey: { name: string, value: string } }
  createdAt?: string
  updatedAt?: string
}

export interface RoleOut {
  id: number | null
  marketoGUID?: string
  opportunityId?: number
  opportunity?: { externalKey: Attrib }
  personId?: number
  role?: string
  isPrimary?: boolean
  externalCreatedDate?: string
  createdAt?: string
  updatedAt?: string
}

export interface ProgramOut {
  id: number
  name?: string
  type?: string
  workspaceId?: number
  workspaceName?: string
  treePath?: string
  folderName?: string
  isArchived?: boolean
  channel?: string
  tags: { type: string, value: string }[]
  costs: { id?: number, month: string, amount: number, note?: string }[]
  createdAt?: string
  updatedAt?: string
}

/** System fields Marketo sets itself; they are never custom fields of the JSON. */
const SYSTEM_FIELDS = new Set(['Id', 'CreatedAt', 'UpdatedAt'])

/** A describeMObject data type -> the JSON kind of its values. */
export function kindOfDataType (dataType: string): FieldKind {
  switch (dataType.toLowerCase()) {
    case 'integer':
    case 'int':
      return 'integer'
    case 'currency':
    case 'float':
    case 'double':
    case 'percent':
      return 'number'
    case 'boolean':
      return 'boolean'
    case 'date':
      return 'date'
    default:
      return 'string'
  }
}

function convert (value: string, kind: FieldKind, name: string): FieldValue | null {
  try {
    // Percent fields may come back as "80%".
    return fromMarketoValue(kind === 'number' ? value.replace(/%\s*$/, '') : value, kind)
  } catch (err) {
    throw new RangeError(`field ${name}: ${(err as Error).message}`)
  }
}

function stamps (o: ReadMObject, out: { createdAt?: string, updatedAt?: string }): void {
  if (o.createdAt !== undefined) out.createdAt = o.createdAt
  if (o.updatedAt !== undefined) out.updatedAt = o.updatedAt
}

/**
 * `fields` is the describeMObject(Opportunity) field list: it types the custom fields. A custom
 * field it does not list is returned as a string. `externalKey`: the key the caller looked the
 * opportunity up by, echoed when Marketo does not return one.
 */
export function opportunityFromMObject (o: ReadMObject, fields: readonly FieldMetadata[] = [], externalKey?: Attrib): OpportunityOut {
  const standard = new Map<string, typeof OPPORTUNITY_FIELDS[number]>(OPPORTUNITY_FIELDS.map((f) => [f.marketo, f]))
  const described = new Map(fields.map((f) => [f.name, f]))
  const values = new Map<string, FieldValue>()
  const customFields: Record<string, FieldValue> = {}
  for (const a of o.attribs ?? []) {
    const spec = standard.get(a.name)
    if (spec !== undefined) {
      const v = convert(a.value, spec.kind, a.name)
      if (v !== null) values.set(spec.key, v)
      continue
    }
    if (SYSTEM_FIELDS.has(a.name)) continue
    const meta = described.get(a.name)
    const v = convert(a.value, meta === undefined ? 'string' : kindOfDataType(meta.dataType), a.name)
    if (v !== null) customFields[a.name] = v
  }
  const out: OpportunityOut = { id: o.id, customFields }
  if (o.marketoGUID !== undefined) out.marketoGUID = o.marketoGUID
  const key = o.externalKey ?? externalKey
  if (key !== undefined) out.externalKey = { name: key.name, value: key.value }
  for (const [k, v] of values) out[k] = v
  const company = o.associations?.find((a) => a.mObjType === 'Company')
  if (company?.id !== undefined) out.company = { id: company.id }
  else if (company?.externalKey !== undefined) out.company = { externalKey: { name: company.externalKey.name, value: company.externalKey.value } }
  stamps(o, out)
  return out
}

export function roleFromMObject (o: ReadMObject): RoleOut {
  const out: RoleOut = { id: o.id }
  if (o.marketoGUID !== undefined) out.marketoGUID = o.marketoGUID
  const byName = attribMap(o.attribs)
  const record = out as unknown as Record<string, FieldValue>
  for (const f of ROLE_FIELDS) {
    const raw = byName.get(f.marketo)
    if (raw === undefined) continue
    const v = convert(raw, f.kind, f.marketo)
    if (v !== null) record[f.key] = v
  }
  // Marketo may name the opportunity and the person only through associations.
  out.opportunityId ??= o.associations?.find((a) => a.mObjType === 'Opportunity')?.id
  out.personId ??= o.associations?.find((a) => a.mObjType === 'Lead')?.id
  const byKey = o.associations?.find((a) => a.mObjType === 'Opportunity' && a.externalKey !== undefined)?.externalKey
  if (out.opportunityId === undefined && byKey !== undefined) out.opportunity = { externalKey: { name: byKey.name, value: byKey.value } }
  if (out.opportunityId === undefined) delete out.opportunityId
  if (out.personId === undefined) delete out.personId
  stamps(o, out)
  return out
}

function attribMap (attribs: readonly Attrib[] | undefined): Map<string, string> {
  return new Map((attribs ?? []).map((a) => [a.name, a.value]))
}

export function programFromMObject (o: ReadMObject): ProgramOut {
  const a = attribMap(o.attribs)
  if (o.id === null) throw new RangeError('a program without an id')
  const out: ProgramOut = { id: o.id, tags: [], costs: [] }
  const name = a.get('Name')
  if (name !== undefined) out.name = name
  const type = a.get('Type')
  if (type !== undefined) out.type = type
  const workspaceId = a.get('Workspace Id')
  if (workspaceId !== undefined && workspaceId !== '') out.workspaceId = convert(workspaceId, 'integer', 'Workspace Id') as number
  const workspaceName = a.get('Workspace Name')
  if (workspaceName !== undefined) out.workspaceName = workspaceName
  const treePath = a.get('Tree Path')
  if (treePath !== undefined) out.treePath = treePath
  const folderName = a.get('Folder Name')
  if (folderName !== undefined) out.folderName = folderName
  const archived = a.get('Is Archived')
  if (archived !== undefined && archived !== '') out.isArchived = convert(archived, 'boolean', 'Is Archived') as boolean
  for (const t of o.typeAttribs ?? []) {
    const m = attribMap(t.attribs)
    if (t.attrType === 'Tag') {
      const tag = { type: m.get('Type') ?? '', value: m.get('Value') ?? '' }
      out.tags.push(tag)
      if (tag.type === 'Channel' && out.channel === undefined) out.channel = tag.value
    } else if (t.attrType === 'Cost') {
      const amount = convert(m.get('Amount') ?? '', 'number', 'Cost Amount')
      if (amount === null) throw new RangeError('field Cost Amount: missing')
      const cost: ProgramOut['costs'][number] = { month: m.get('Month') ?? '', amount: amount as number }
      const id = m.get('Id')
      if (id !== undefined && id !== '') cost.id = convert(id, 'integer', 'Cost Id') as number
      const note = m.get('Note')
      if (note !== undefined) cost.note = note
      out.costs.push(cost)
    }
    // Other attrTypes (e.g. Token) are not part of this API.
  }
  stamps(o, out)
  return out
}
