import type { Attrib, MObject, MObjStatus, SyncOperation } from '../../domain/model.js'
import { OPPORTUNITY_FIELDS } from '../../domain/fields.js'

// MObjects (the gateway's one internal model, built by src/http/mapping/) to Marketo REST calls, and
// REST results back to MObject statuses. What REST cannot express is refused before any call
// (restProblems), never silently given another meaning.

export interface RestMappingConfig {
  /** The externalKey name that is REST's externalOpportunityId. */
  externalKeyField: string
}

export interface RestProblem {
  index: number
  /** JSON Pointer below the object (or below the request, for a program). */
  path: string
  message: string
}

export type RestCallKind = 'opportunities' | 'roles' | 'program'

export interface RestCall {
  kind: RestCallKind
  /** Positions in the batch of the objects this call carries, in `input` order. */
  indexes: number[]
  path: string
  contentType: 'application/json' | 'application/x-www-form-urlencoded'
  /** What is sent, before encoding (dry runs and tests show it). */
  payload: Record<string, unknown>
  body: string
}

export interface RestPlan {
  calls: RestCall[]
  /** Objects answered without a call, exactly as Marketo would (a Program outside UPDATE). */
  local: Map<number, MObjStatus>
}

export const MAX_RECORDS_PER_REST_CALL = 300
/** The REST API's body limit for standard calls (rest-api.md). */
export const MAX_REST_BODY_BYTES = 1024 * 1024
// Room in a call's body for everything around the records (action, dedupeBy, brackets, commas).
const ENVELOPE_BYTES = 1024

const ACTIONS: Record<SyncOperation, string> = { INSERT: 'createOnly', UPDATE: 'updateOnly', UPSERT: 'createOrUpdate' }
const SOAP_TO_REST = new Map<string, { key: string, kind: string }>(OPPORTUNITY_FIELDS.map((f) => [f.marketo, { key: f.key, kind: f.kind }]))
const ROLE_FIELDS = new Map<string, { key: string, kind: string }>([
  ['Role', { key: 'role', kind: 'string' }],
  ['IsPrimary', { key: 'isPrimary', kind: 'boolean' }],
  ['ExternalCreatedDate', { key: 'externalCreatedDate', kind: 'date' }]
])

/** "You can set the channel and type only during creation" (programs.md; an update that tries answers 709). */
export const REST_CHANNEL_AT_CREATION = 'the REST API sets a program\'s channel only when the program is created (Update Program has no channel): a Channel tag cannot be changed on the REST backend'
export const REST_COMPANY_LINK = 'the REST API links an opportunity to its company by the company\'s externalCompanyId only: give company as {"externalKey":{"name":"externalCompanyId","value":…}}'
export const REST_NAME_REQUIRED = 'the REST API creates an opportunity only with a name: an insert needs name'

const SOAP_ONLY_ID = 'integer opportunity ids are SOAP-only: on the REST backend name the opportunity by externalKey or marketoGUID'

function restValue (kind: string, value: string): string | number | boolean {
  if (kind === 'boolean') return value === '1' || value.toLowerCase() === 'true'
  if ((kind === 'number' || kind === 'integer') && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value)
  return value
}

/** Everything a batch asks for that the REST API cannot honour. Empty: the batch maps. */
export function restProblems (operation: SyncOperation, objects: MObject[], cfg: RestMappingConfig): RestProblem[] {
  const out: RestProblem[] = []
  const keyName = (ek: Attrib | undefined): boolean => ek === undefined || ek.name === cfg.externalKeyField
  const wrongKey = `on the REST backend the external key of an opportunity must be named "${cfg.externalKeyField}" (MARKETO_REST_EXTERNAL_KEY_FIELD), which is REST's externalOpportunityId`
  objects.forEach((o, index) => {
    const add = (path: string, message: string): void => { out.push({ index, path, message }) }
    if (o.type === 'Opportunity') {
      if (o.id !== undefined) add('/id', SOAP_ONLY_ID)
      if (!keyName(o.externalKey)) add('/externalKey/name', wrongKey)
      if (o.marketoGUID !== undefined && operation !== 'UPDATE') add('/marketoGUID', 'marketoGUID names an existing opportunity: use operation update (REST creates opportunities by external key only)')
      if (o.id === undefined && o.externalKey === undefined && o.marketoGUID === undefined) add('', `the REST API creates and finds opportunities by external key only: give externalKey (named "${cfg.externalKeyField}") or marketoGUID`)
      for (const a of o.associations ?? []) {
        if (a.mObjType !== 'Company' || a.externalKey?.name !== 'externalCompanyId') add('/company', REST_COMPANY_LINK)
      }
      if ((o.typeAttribs ?? []).length > 0) add('/typeAttributes', 'an Opportunity has no typeAttributes')
      // Sync Opportunities: "The 'name' field must not be null" for a record it creates. An insert
      // always creates; an upsert of a new record without one is failed by Marketo (1003).
      if (operation === 'INSERT' && !(o.attribs ?? []).some((a) => a.name === 'Name' && a.value !== '')) add('/name', REST_NAME_REQUIRED)
    } else if (o.type === 'OpportunityPersonRole') {
      if (o.id !== undefined) add('/id', 'integer role ids are SOAP-only: REST keys roles on opportunity, person and role')
      if (o.externalKey !== undefined) add('/externalKey', 'a role has no external key')
      const attribs = o.attribs ?? []
      if (attribs.some((a) => a.name === 'OpportunityId')) add('/opportunityId', SOAP_ONLY_ID)
      let opportunity = attribs.some((a) => a.name === 'OpportunityId')
      let person = attribs.some((a) => a.name === 'PersonId')
      for (const a of o.associations ?? []) {
        if (a.mObjType === 'Opportunity') {
          opportunity = true
          if (a.id !== undefined) add('/opportunity', SOAP_ONLY_ID)
          else if (!keyName(a.externalKey)) add('/opportunity/externalKey/name', wrongKey)
        } else if (a.mObjType === 'Lead') {
          person = true
          if (a.id === undefined) add('/person', 'REST names a role\'s person by lead id only: use personId')
        } else {
          add('/associations', `a role cannot be linked to a ${a.mObjType} on the REST backend`)
        }
      }
      if (!opportunity) add('', 'a role needs its opportunity (by external key on the REST backend)')
      if (!person) add('', 'a role needs its person (personId)')
      if (!attribs.some((a) => a.name === 'Role' && a.value !== '')) add('/role', 'the REST API keys roles on opportunity, person and role: role is required')
      for (const a of attribs) {
        if (a.name !== 'OpportunityId' && a.name !== 'PersonId' && !ROLE_FIELDS.has(a.name)) add(`/${a.name}`, `unknown role field ${a.name}`)
      }
    } else if (o.type === 'Program') {
      if (o.replaceCosts === true && !(o.typeAttribs ?? []).some((t) => t.attrType === 'Cost')) add('/replace', 'replacing cost lines needs the lines that replace them')
      if ((o.attribs ?? []).length > 0) add('/attributes', 'program attributes cannot be updated through the API')
      if ((o.associations ?? []).length > 0) add('/associations', 'a Program has no associations')
      const counts = { Cost: 0, Tag: 0 }
      for (const t of o.typeAttribs ?? []) {
        if (t.attrType !== 'Cost' && t.attrType !== 'Tag') { add('/typeAttributes', `unknown program typeAttribute ${t.attrType}`); continue }
        const j = counts[t.attrType]++
        const at = `/${t.attrType === 'Cost' ? 'costs' : 'tags'}/${j}`
        if (t.attrType === 'Cost') {
          const id = t.attribs.find((a) => a.name === 'Id')
          if (id !== undefined) add(`${at}/id`, 'the REST API has no cost ids, so a cost line cannot be updated in place: omit id to append a cost, or send all lines with "replace": true (see the README migration section)')
          const amount = t.attribs.find((a) => a.name === 'Amount')
          if (amount !== undefined && !/^-?\d+$/.test(amount.value)) add(`${at}/amount`, 'REST program costs are whole numbers')
          for (const a of t.attribs) if (!['Month', 'Amount', 'Id', 'Note'].includes(a.name)) add(`${at}/${a.name}`, `unknown cost attribute ${a.name}`)
        } else {
          for (const a of t.attribs) if (a.name !== 'Type' && a.name !== 'Value') add(`${at}/${a.name}`, `unknown tag attribute ${a.name}`)
          if (t.attribs.some((a) => a.name === 'Type' && a.value === 'Channel')) add(`${at}/type`, REST_CHANNEL_AT_CREATION)
        }
      }
    } else {
      add('/type', `MObject type ${o.type} is not supported by the REST backend (Opportunity, OpportunityPersonRole and Program are)`)
    }
  })
  return out
}

function opportunityRecord (o: MObject): Record<string, unknown> {
  const record: Record<string, unknown> = {}
  if (o.marketoGUID !== undefined) record.marketoGUID = o.marketoGUID
  if (o.externalKey !== undefined) record.externalOpportunityId = o.externalKey.value
  const company = o.associations?.find((a) => a.mObjType === 'Company')?.externalKey
  if (company !== undefined) record.externalCompanyId = company.value
  for (const a of o.attribs ?? []) {
    const f = SOAP_TO_REST.get(a.name)
    if (f !== undefined) record[f.key] = restValue(f.kind, a.value)
    else record[a.name] = a.value
  }
  return record
}

function roleRecord (o: MObject): Record<string, unknown> {
  const record: Record<string, unknown> = {}
  for (const a of o.associations ?? []) {
    if (a.mObjType === 'Opportunity' && a.externalKey !== undefined) record.externalOpportunityId = a.externalKey.value
    if (a.mObjType === 'Lead' && a.id !== undefined) record.leadId = a.id
  }
  for (const a of o.attribs ?? []) {
    if (a.name === 'PersonId') record.leadId = Number(a.value)
    const f = ROLE_FIELDS.get(a.name)
    if (f !== undefined) record[f.key] = restValue(f.kind, a.value)
  }
  return record
}

function programPayload (o: MObject): Record<string, unknown> {
  // Form fields are JSON texts: costsDestructiveUpdate=true.
  const costs: Array<Record<string, unknown>> = []
  const tags: Array<Record<string, unknown>> = []
  for (const t of o.typeAttribs ?? []) {
    const get = (name: string): string | undefined => t.attribs.find((a) => a.name === name)?.value
    if (t.attrType === 'Cost') {
      // A period cost starts on the first of its month (the docs' own example: "2016-01-01").
      const cost: Record<string, unknown> = { startDate: `${get('Month') ?? ''}-01`, cost: Number(get('Amount')) }
      const note = get('Note')
      if (note !== undefined) cost.note = note
      costs.push(cost)
    } else if (t.attrType === 'Tag') {
      tags.push({ tagType: get('Type'), tagValue: get('Value') })
    }
  }
  const payload: Record<string, unknown> = {}
  if (costs.length > 0) payload.costs = costs
  if (o.replaceCosts === true) payload.costsDestructiveUpdate = true
  if (tags.length > 0) payload.tags = tags
  return payload
}

/**
 * The key Marketo dedupes a sync record on (opportunities: externalOpportunityId, roles: the
 * compound key of opportunity-roles.md; by marketoGUID with dedupeBy idField): two records with one
 * key in one call make Marketo skip the second with 1036 (error-codes.md). Undefined: none.
 */
export function restRecordKey (o: MObject): string | undefined {
  if (o.type !== 'Opportunity' && o.type !== 'OpportunityPersonRole') return undefined
  if (o.marketoGUID !== undefined) return `${o.type}:guid:${o.marketoGUID}`
  if (o.type === 'Opportunity') return o.externalKey === undefined ? undefined : `Opportunity:key:${o.externalKey.value}`
  const r = roleRecord(o)
  return r.externalOpportunityId === undefined ? undefined : `OpportunityPersonRole:key:${JSON.stringify([r.externalOpportunityId, r.leadId, r.role])}`
}

/**
 * The REST calls for a batch, in batch order. Consecutive objects of one kind and dedupe mode share
 * a call of at most 300 records and 1 MB; an object whose key is already in the call starts the
 * next call, so a batch naming one record twice is applied in order instead of answered 1036.
 */
export function planRestCalls (operation: SyncOperation, objects: MObject[]): RestPlan {
  const calls: RestCall[] = []
  const local = new Map<number, MObjStatus>()
  let current: { kind: RestCallKind, dedupe: string, indexes: number[], input: Array<Record<string, unknown>>, bytes: number, keys: Set<string> } | undefined
  const flush = (): void => {
    if (current === undefined) return
    const payload: Record<string, unknown> = { action: ACTIONS[operation], dedupeBy: current.dedupe, input: current.input }
    calls.push({
      kind: current.kind,
      indexes: current.indexes,
      path: current.kind === 'opportunities' ? '/rest/v1/opportunities.json' : '/rest/v1/opportunities/roles.json',
      contentType: 'application/json',
      payload,
      body: JSON.stringify(payload)
    })
    current = undefined
  }
  objects.forEach((o, index) => {
    if (o.type === 'Program') {
      flush()
      if (operation !== 'UPDATE') {
        local.set(index, { id: o.id ?? null, status: 'FAILED', error: `Program can only be synced in UPDATE mode, not ${operation}` })
        return
      }
      const payload = programPayload(o)
      const form = new URLSearchParams()
      for (const [k, v] of Object.entries(payload)) form.set(k, JSON.stringify(v))
      calls.push({ kind: 'program', indexes: [index], path: `/rest/asset/v1/program/${o.id ?? 0}.json`, contentType: 'application/x-www-form-urlencoded', payload, body: form.toString() })
      return
    }
    const kind: RestCallKind = o.type === 'Opportunity' ? 'opportunities' : 'roles'
    const dedupe = o.marketoGUID !== undefined ? 'idField' : 'dedupeFields'
    const record = kind === 'opportunities' ? opportunityRecord(o) : roleRecord(o)
    const bytes = Buffer.byteLength(JSON.stringify(record)) + 1
    const key = restRecordKey(o)
    if (current === undefined || current.kind !== kind || current.dedupe !== dedupe || current.input.length >= MAX_RECORDS_PER_REST_CALL ||
        (current.input.length > 0 && current.bytes + bytes > MAX_REST_BODY_BYTES - ENVELOPE_BYTES) || (key !== undefined && current.keys.has(key))) {
      flush()
      current = { kind, dedupe, indexes: [], input: [], bytes: 0, keys: new Set() }
    }
    current.indexes.push(index)
    current.input.push(record)
    current.bytes += bytes
    if (key !== undefined) current.keys.add(key)
  })
  flush()
  return { calls, local }
}

/**
 * Record-level reasons that mean "nothing to do" rather than "invalid" (error-codes.md): not found
 * (1004 lead, 1013 object), already exists (1005 lead, 1017 object). Every other reason fails the
 * record, e.g. 1003 invalid data, 1006 unknown field, 1018 CRM-synced instance, 1036 duplicate.
 */
export const SKIP_REASONS = new Set(['1004', '1005', '1013', '1017'])

export interface RestRecordResult {
  seq?: unknown
  status?: unknown
  marketoGUID?: unknown
  reasons?: Array<{ code?: unknown, message?: unknown }>
}

/** One status per record of a sync call, or a string saying why the answer cannot be trusted. */
export function recordStatuses (call: RestCall, objects: MObject[], result: unknown[] | undefined): MObjStatus[] | string {
  const rows = (result ?? []) as RestRecordResult[]
  if (rows.length !== call.indexes.length) return `expected ${call.indexes.length} results, got ${rows.length}`
  const bySeq = new Map<number, RestRecordResult>()
  for (const r of rows) {
    if (typeof r !== 'object' || r === null || typeof r.seq !== 'number' || bySeq.has(r.seq)) return 'a result has no seq, or a repeated one'
    bySeq.set(r.seq, r)
  }
  const out: MObjStatus[] = []
  for (let seq = 0; seq < call.indexes.length; seq++) {
    const r = bySeq.get(seq)
    if (r === undefined) return `no result for seq ${seq}`
    const sent = objects[call.indexes[seq]]
    const status: MObjStatus = { id: null, status: 'FAILED' }
    if (sent.externalKey !== undefined) status.externalKey = { ...sent.externalKey }
    if (typeof r.marketoGUID === 'string' && r.marketoGUID !== '') status.marketoGUID = r.marketoGUID
    else if (sent.marketoGUID !== undefined) status.marketoGUID = sent.marketoGUID
    const reason = Array.isArray(r.reasons) && r.reasons.length > 0 ? r.reasons[0] : undefined
    const reasonText = reason === undefined ? 'Marketo skipped the record without a reason' : `${String(reason.message ?? 'no message').slice(0, 500)} (${String(reason.code ?? 'no code')})`
    switch (r.status) {
      case 'created': status.status = 'CREATED'; break
      case 'updated': status.status = 'UPDATED'; break
      case 'deleted': status.status = 'DELETED'; break
      case 'skipped':
        if (reason !== undefined && SKIP_REASONS.has(String(reason.code))) status.status = 'SKIPPED'
        status.error = reasonText
        break
      default:
        return `unknown record status ${JSON.stringify(r.status)?.slice(0, 40)}`
    }
    out.push(status)
  }
  return out
}
