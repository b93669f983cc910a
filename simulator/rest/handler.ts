import type { IncomingMessage, ServerResponse } from 'node:http'
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import type { Attrib, MObject, MObjStatus, SyncOperation, TypeAttrib } from '../model.js'
import { SimulatorFault } from '../faults.js'
import { HTML_502, type Knob } from '../knobs.js'
import { readBody, resetConnection, send, type HandlerContext, type LedgerEntry } from '../handler.js'
import { ProgramRefusal, type FieldDef, type ProgramTag, type StoredOpportunity, type StoredProgram, type StoredRole } from '../store.js'
import { OPPORTUNITY_REST_FIELDS, ROLE_REST_FIELDS, conventionalName, type RestField } from './fields.js'
import { fromGuid, toGuid, type GuidKind } from './guid.js'

// The REST face of the simulated Marketo instance: the same store, limits, knobs and ledger as
// the SOAP face, so a record written through one face is read through the other. Shapes and
// codes follow adobe-docs-rest/ (error-codes.md, opportunities.md, opportunity-roles.md,
// programs.md) and the REST OpenAPI subset.

export interface RestFaceOptions {
  clientId: string
  clientSecret: string
  /** Lifetime of an access token (expires_in is reported in whole seconds, at least 1). */
  tokenTtlMs: number
  /** The store field that is REST's externalOpportunityId. */
  externalKeyField: string
  /** A CRM-synced instance (SFDC or Dynamics sync): opportunities read-only, no role API. */
  crmSync?: boolean
}

export interface RestFaceControl {
  /** Expire every token issued so far (the next data call gets 602, the next token call a new token). */
  expireTokens (): void
  setTokenTtlMs (ms: number): void
  /** Switch native CRM sync on or off: opportunity writes skip with 1018, the role API answers 1018. */
  setCrmSync (on: boolean): void
  /** Distinct tokens handed out (a token asked for again while valid is not a new one). */
  readonly tokensIssued: number
}

export const MAX_REST_RECORDS = 300
export const MAX_REST_BODY_BYTES = 1024 * 1024
export const MAX_REST_URI_BYTES = 8 * 1024
const JSON_TYPE = 'application/json;charset=UTF-8'

const ACTIONS: Record<string, SyncOperation> = { createOnly: 'INSERT', updateOnly: 'UPDATE', createOrUpdate: 'UPSERT' }
// A delete of a record that does not exist: error-codes.md, record level, "1013 Object not found".
const NOT_FOUND = { code: 1013, message: 'Object not found' }
// Describe: the fields a record is keyed by, which neither sync nor update changes (the docs' updateable: false).
const KEY_FIELDS: Record<GuidKind, readonly string[]> = { opportunity: ['marketoGUID', 'externalOpportunityId'], role: ['marketoGUID', 'externalOpportunityId', 'leadId', 'role'] }
// A SOAP fault knob, answered by the REST face as its REST twin.
const SOAP_TO_REST: Record<number, number> = { 20023: 606, 20024: 615, 20015: 607, 20014: 603, 20013: 603, 20016: 602, 10001: 611, 20011: 611 }

// Record-level reasons as error-codes.md words them.
const RECORD_REASON_TEXT: Record<number, string> = {
  1003: 'Invalid data',
  1013: 'Object not found',
  1017: 'Object already exists',
  1018: 'CRM Enabled',
  1036: 'Duplicate object found in input'
}
// Response-level errors a knob can inject, as error-codes.md words them.
const RESPONSE_ERROR_TEXT: Record<number, string> = {
  500: 'Internal Server error',
  502: 'Bad Gateway',
  601: 'Access token invalid',
  602: 'Access token expired',
  603: 'Access denied',
  604: 'Request time-out',
  606: 'Max rate limit \'100\' exceeded with in \'20\' secs',
  607: 'Daily quota reached',
  608: 'API Temporarily Unavailable',
  611: 'System error',
  614: 'Invalid Subscription',
  615: 'Concurrent access limit reached',
  713: 'Transient Error',
  1018: 'CRM Enabled'
}

class RestFault extends Error {
  constructor (readonly code: number, message: string) { super(message) }
}

function safeEqual (a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

function requestId (): string {
  return `${randomUUID().slice(0, 5)}#${Date.now().toString(16)}`
}

function words (s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1).replace(/([a-z0-9])([A-Z])/g, '$1 $2')
}

/** The Asset API's timestamps, as programs.md prints them: 2015-05-21T22:45:13Z+0000. */
function assetTimestamp (s: string): string {
  return new Date(s).toISOString().replace(/\.\d{3}Z$/, 'Z+0000')
}

/** Marketo's REST timestamps: seconds and Z (describe.json's createdAt, updatedAt). */
function restTimestamp (s: string): string {
  return new Date(s).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function storeValue (v: unknown): string {
  if (typeof v === 'boolean') return v ? '1' : '0'
  return String(v)
}

export function createRestFace (ctx: HandlerContext, opts: RestFaceOptions): { handle: NonNullable<HandlerContext['rest']>, control: RestFaceControl } {
  const tokens = new Map<string, number>()
  // The token the identity service hands out: the same one until it expires (as Marketo's does).
  let current: { token: string, expires: number } | undefined
  let issued = 0
  let ttlMs = opts.tokenTtlMs
  let crmSync = opts.crmSync === true
  let seq = 1_000_000
  const control: RestFaceControl = {
    expireTokens: () => {
      for (const t of tokens.keys()) tokens.set(t, 0)
      if (current !== undefined) current.expires = 0
    },
    setTokenTtlMs: (ms) => { ttlMs = ms },
    setCrmSync: (on) => { crmSync = on },
    get tokensIssued () { return issued }
  }

  const json = (res: ServerResponse, body: unknown, status = 200): void => {
    send(res, status, JSON.stringify(body), JSON_TYPE)
  }
  const failure = (res: ServerResponse, code: number, message: string): void => {
    json(res, { requestId: requestId(), success: false, errors: [{ code: String(code), message }] })
  }

  // ------------------------------------------------------------ identity

  async function identity (req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> {
    if (path !== '/identity/oauth/token') { json(res, { error: 'not_found' }, 404); return }
    const raw = req.method === 'POST' ? await readBody(req, 65_536) : Buffer.alloc(0)
    const params = new URLSearchParams(query)
    if (raw !== 'too-large' && raw.length > 0) for (const [k, v] of new URLSearchParams(raw.toString('utf8'))) params.set(k, v)
    if (params.get('grant_type') !== 'client_credentials') { json(res, { error: 'invalid_request', error_description: 'grant_type must be client_credentials' }, 400); return }
    if (!safeEqual(params.get('client_id') ?? '', opts.clientId) || !safeEqual(params.get('client_secret') ?? '', opts.clientSecret)) {
      json(res, { error: 'unauthorized', error_description: 'Bad client credentials' }, 401)
      return
    }
    // While the token is valid the same one is handed back, expires_in counting down the whole
    // seconds left; at 0 it has expired, and only then is a new one minted.
    const now = ctx.clock().getTime()
    if (current === undefined || current.expires - now <= 0) {
      current = { token: `${randomUUID()}:sim`, expires: now + ttlMs }
      tokens.set(current.token, current.expires)
      issued++
    }
    json(res, { access_token: current.token, token_type: 'bearer', expires_in: Math.ceil((current.expires - now) / 1_000), scope: 'api-user@simulator' })
  }

  // ---------------------------------------------------------------- data

  /** REST name -> store name of the opportunity fields a sync may write. */
  function fieldMap (): Map<string, string> {
    const out = new Map<string, string>()
    for (const f of ctx.store.describe('Opportunity').fields) {
      if (f.isReadonly || f.name === opts.externalKeyField) continue
      out.set(restName('opportunity', f), f.name)
    }
    return out
  }

  /** The face's table entry of a store field (undefined: named by convention, or custom). */
  function tableEntry (kind: GuidKind, f: FieldDef): RestField | undefined {
    if (kind === 'opportunity' && f.name === opts.externalKeyField) return OPPORTUNITY_REST_FIELDS.find((r) => r.name === 'externalOpportunityId')
    return (kind === 'opportunity' ? OPPORTUNITY_REST_FIELDS : ROLE_REST_FIELDS).find((r) => r.store === f.name)
  }

  function restName (kind: GuidKind, f: FieldDef): string {
    const entry = tableEntry(kind, f)
    if (entry !== undefined) return entry.name
    // Custom fields keep their own API name, as Marketo's do.
    return f.isCustom === true ? f.name : conventionalName(f.name)
  }

  /** Store name -> REST name of every field the SOAP face's describeMObject lists: one table for
   *  records, describe.json and the fields parameter, so the three always agree. */
  function restNames (kind: GuidKind): Map<string, string> {
    const meta = ctx.store.describe(kind === 'opportunity' ? 'Opportunity' : 'OpportunityPersonRole')
    return new Map(meta.fields.map((f) => [f.name, restName(kind, f)]))
  }

  function opportunityRecord (o: StoredOpportunity, i: number, names: Map<string, string>): Record<string, unknown> {
    const r: Record<string, unknown> = { seq: i, marketoGUID: toGuid('opportunity', o.id), createdAt: o.createdAt, updatedAt: o.updatedAt }
    for (const [name, value] of Object.entries(o.fields)) r[names.get(name) ?? conventionalName(name)] = value
    return r
  }

  function roleRecord (r: StoredRole, i: number, names: Map<string, string>): Record<string, unknown> {
    const opp = ctx.store.opportunity(r.opportunityId)
    const out: Record<string, unknown> = { seq: i, marketoGUID: toGuid('role', r.id), externalOpportunityId: opp?.fields[opts.externalKeyField] ?? null, leadId: r.personId, createdAt: r.createdAt, updatedAt: r.updatedAt }
    for (const [name, value] of Object.entries(r.fields)) out[names.get(name) ?? conventionalName(name)] = name === 'IsPrimary' ? value === '1' : value
    return out
  }

  /** Describe Opportunity / Describe Opportunity Role: the SOAP describe's fields under their REST names. */
  function describeObject (kind: GuidKind): Record<string, unknown> {
    const opportunity = kind === 'opportunity'
    const meta = ctx.store.describe(opportunity ? 'Opportunity' : 'OpportunityPersonRole')
    const fields = meta.fields.map((f) => {
      const entry = tableEntry(kind, f)
      const name = restName(kind, f)
      const dataType = entry?.dataType ?? f.dataType
      const length = entry?.dataType !== undefined ? entry.length : (dataType === 'string' || dataType === 'text') ? f.size : undefined
      return {
        name,
        displayName: entry?.displayName ?? f.displayName ?? words(f.name),
        dataType,
        ...(length !== undefined ? { length } : {}),
        updateable: entry !== undefined ? entry.updateable : f.isReadonly !== true && !KEY_FIELDS[kind].includes(name),
        // No CRM sync in the simulator, so no field is managed by one.
        crmManaged: false
      }
    })
    const stamp = restTimestamp(meta.updatedAt)
    return {
      name: opportunity ? 'opportunity' : 'opportunityRole',
      displayName: opportunity ? 'Opportunity' : 'Opportunity Role',
      createdAt: stamp,
      updatedAt: stamp,
      idField: 'marketoGUID',
      dedupeFields: opportunity ? ['externalOpportunityId'] : ['externalOpportunityId', 'leadId', 'role'],
      // As the docs list them (the compound role key is queried by POST ?_method=GET, which this simulator refuses).
      searchableFields: opportunity ? [['externalOpportunityId'], ['marketoGUID']] : [['externalOpportunityId', 'leadId', 'role'], ['marketoGUID'], ['leadId'], ['externalOpportunityId']],
      fields
    }
  }

  // The program types as the REST docs spell them; the SOAP face's "Marketing Program" is a Default one.
  function programType (t: string): string {
    const known = PROGRAM_TYPES.find((x) => x.toLowerCase() === t.toLowerCase())
    return known ?? 'Default'
  }

  /** A program as Get Program by Id shows it (programs.md): costs and tags null when there are none. */
  function programResponse (p: Readonly<StoredProgram>, include: { tags: boolean, costs: boolean } = { tags: true, costs: true }): Record<string, unknown> {
    const folder = ctx.store.folderOf(p)
    const tags = p.tags.filter((t) => t.type !== 'Channel')
    const out: Record<string, unknown> = {
      id: p.id,
      name: p.name,
      description: p.description ?? '',
      createdAt: assetTimestamp(p.createdAt),
      updatedAt: assetTimestamp(p.updatedAt),
      url: `https://app.marketo.example/#PG${p.id}A1`,
      type: programType(p.type),
      channel: p.tags.find((t) => t.type === 'Channel')?.value ?? '',
      folder: { type: 'Folder', value: folder.id, folderName: folder.name },
      status: '',
      workspace: p.workspaceName
    }
    if (include.tags) out.tags = tags.length === 0 ? null : tags.map((t) => ({ tagType: t.type, tagValue: t.value }))
    if (include.costs) out.costs = p.costs.length === 0 ? null : p.costs.map((c) => ({ startDate: `${c.month}-01`, cost: Number(c.amount), ...(c.note !== undefined ? { note: c.note } : {}) }))
    out.headStart = false
    return out
  }

  type Row = { seq: number, status: string, marketoGUID?: string, reasons?: Array<{ code: string, message: string }> }

  function skipped (i: number, code: number, message: string): Row {
    return { seq: i, status: 'skipped', reasons: [{ code: String(code), message }] }
  }

  /** The statusCount and unmatchedId knobs: a reply whose rows do not match the request. */
  function adjustRows (rows: Row[], knob: Knob | undefined, extra: string): Row[] {
    if (knob?.statusCount === 'fewer') rows = rows.slice(0, Math.max(0, rows.length - 1))
    if (knob?.statusCount === 'more') rows = [...rows, { seq: rows.length, status: extra }]
    if (knob?.unmatchedId && rows.length > 0) rows = [{ ...rows[0], seq: 2_000_000_000 }, ...rows.slice(1)]
    return rows
  }

  function fromStatus (i: number, s: MObjStatus, operation: SyncOperation, kind: 'opportunity' | 'role', what: string): Row {
    const guid = s.id !== null ? toGuid(kind, s.id) : undefined
    switch (s.status) {
      case 'CREATED': return { seq: i, status: 'created', marketoGUID: guid }
      case 'UPDATED':
      case 'UNCHANGED': return { seq: i, status: 'updated', marketoGUID: guid }
      case 'SKIPPED': return operation === 'INSERT' ? { ...skipped(i, 1005, `${what} already exists`), marketoGUID: guid } : skipped(i, 1004, `${what} not found`)
      default: return skipped(i, /^Unknown field/.test(s.error ?? '') ? 1006 : 1003, s.error ?? 'Invalid data')
    }
  }

  /** The key two records of one input would collide on (undefined: the record names none). */
  function dedupeKey (kind: GuidKind, dedupeBy: unknown, rec: Record<string, unknown>): string | undefined {
    if (dedupeBy === 'idField') return typeof rec.marketoGUID === 'string' ? rec.marketoGUID : undefined
    if (typeof rec.externalOpportunityId !== 'string') return undefined
    return kind === 'opportunity' ? rec.externalOpportunityId : JSON.stringify([rec.externalOpportunityId, rec.leadId, rec.role])
  }

  /** Sync Opportunities / Sync Opportunity Roles: one store call per record, answered by seq. */
  function syncRecords (kind: 'opportunity' | 'role', body: Record<string, unknown>, entry: LedgerEntry, knob: Knob | undefined): Row[] {
    const action = body.action ?? 'createOrUpdate'
    const operation = typeof action === 'string' ? ACTIONS[action] : undefined
    if (operation === undefined) throw new RestFault(1003, `Invalid action '${String(action).slice(0, 40)}': expected createOnly, updateOnly or createOrUpdate`)
    const dedupeBy = body.dedupeBy ?? 'dedupeFields'
    if (dedupeBy !== 'dedupeFields' && dedupeBy !== 'idField') throw new RestFault(1003, 'Invalid dedupeBy: expected dedupeFields or idField')
    if (dedupeBy === 'idField' && operation !== 'UPDATE') throw new RestFault(1003, 'dedupeBy idField is only valid with action updateOnly')
    const input = body.input
    if (!Array.isArray(input)) throw new RestFault(701, 'input cannot be blank')
    if (input.length > MAX_REST_RECORDS) throw new RestFault(1003, `Too many records: ${input.length}, the maximum is ${MAX_REST_RECORDS}`)
    const fields = kind === 'opportunity' ? fieldMap() : undefined
    const what = kind === 'opportunity' ? 'Opportunity' : 'Opportunity role'
    const objects: MObject[] = []
    const statuses: MObjStatus[] = []
    const fail = new Set(knob?.failObjects ?? [])
    entry.syncOperation = operation
    const seen = new Set<string>()
    const rows = input.map((raw: unknown, i: number): Row => {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return skipped(i, 1003, 'Invalid data: a record must be an object')
      const rec = raw as Record<string, unknown>
      if (fail.has(i) && knob?.failReason !== undefined) return skipped(i, knob.failReason, RECORD_REASON_TEXT[knob.failReason] ?? 'Invalid data')
      // A CRM-synced instance: the opportunity API is read-only (opportunities.md).
      if (crmSync) return skipped(i, 1018, RECORD_REASON_TEXT[1018])
      // One input naming the same record twice (error-codes.md 1036): the first is applied.
      const key = dedupeKey(kind, dedupeBy, rec)
      if (key !== undefined) {
        if (seen.has(key)) return skipped(i, 1036, RECORD_REASON_TEXT[1036])
        seen.add(key)
      }
      const obj: MObject = { type: kind === 'opportunity' ? 'Opportunity' : 'OpportunityPersonRole' }
      const attribs: Attrib[] = []
      if (dedupeBy === 'idField') {
        const id = typeof rec.marketoGUID === 'string' ? fromGuid(kind, rec.marketoGUID) : undefined
        if (id === undefined) return skipped(i, typeof rec.marketoGUID === 'string' ? 1004 : 1002, typeof rec.marketoGUID === 'string' ? `${what} not found` : 'Missing value for the required parameter marketoGUID')
        obj.id = id
      }
      if (kind === 'opportunity') {
        const ext = rec.externalOpportunityId
        if (dedupeBy === 'dedupeFields') {
          if (typeof ext !== 'string' || ext === '') return skipped(i, 1002, 'Missing value for the required parameter externalOpportunityId')
          obj.externalKey = { name: opts.externalKeyField, value: ext }
          // "The 'name' field must not be null" (opportunities.md): a record that would be created needs one.
          const creates = operation !== 'UPDATE' && ctx.store.findOpportunities((o) => o.fields[opts.externalKeyField] === ext).length === 0
          if ((creates && (typeof rec.name !== 'string' || rec.name === '')) || rec.name === null) return skipped(i, 1003, 'Invalid data: name must not be null')
        }
        for (const [name, value] of Object.entries(rec)) {
          if (name === 'externalOpportunityId' || name === 'marketoGUID') continue
          if (name === 'seq' || name === 'reasons') return skipped(i, 1003, `Invalid data: ${name} is only part of responses`)
          const store = (fields as Map<string, string>).get(name)
          if (store === undefined) return skipped(i, 1006, `Field '${name.slice(0, 80)}' not found`)
          if (value === null || typeof value === 'object') return skipped(i, 1001, `Invalid value for '${name.slice(0, 80)}'`)
          attribs.push({ name: store, value: storeValue(value) })
        }
      } else {
        const ext = rec.externalOpportunityId
        const lead = rec.leadId
        const role = rec.role
        if (dedupeBy === 'dedupeFields') {
          if (typeof ext !== 'string' || ext === '') return skipped(i, 1002, 'Missing value for the required parameter externalOpportunityId')
          if (typeof lead !== 'number' || !Number.isInteger(lead)) return skipped(i, 1002, 'Missing value for the required parameter leadId')
          if (typeof role !== 'string' || role === '') return skipped(i, 1002, 'Missing value for the required parameter role')
          obj.associations = [{ mObjType: 'Opportunity', externalKey: { name: opts.externalKeyField, value: ext } }]
          attribs.push({ name: 'PersonId', value: String(lead) })
        }
        for (const [name, value] of Object.entries(rec)) {
          if (['externalOpportunityId', 'leadId', 'marketoGUID'].includes(name)) continue
          const store = name === 'role' ? 'Role' : name === 'isPrimary' ? 'IsPrimary' : name === 'externalCreatedDate' ? 'ExternalCreatedDate' : undefined
          if (store === undefined) return skipped(i, 1006, `Field '${name.slice(0, 80)}' not found`)
          attribs.push({ name: store, value: storeValue(value) })
        }
      }
      if (attribs.length > 0) obj.attribs = attribs
      objects.push(obj)
      // One record at a time: each succeeds or fails alone, as Marketo's records do.
      const status = ctx.store.sync(operation, [obj], { failObjects: fail.has(i) ? new Set([0]) : undefined, roleKeyIncludesRole: kind === 'role' && dedupeBy === 'dedupeFields' })[0]
      statuses.push(status)
      return fromStatus(i, status, operation, kind, what)
    })
    entry.objects = objects
    entry.statuses = statuses
    entry.applied = true
    return rows
  }

  /** costs and tags of a program form (JSON arrays, CostRequest and TagRequest items). */
  function programLines (form: Record<string, unknown>): { costs?: Array<{ month: string, amount: string, note?: string }>, tags?: ProgramTag[], typeAttribs: TypeAttrib[] } {
    const typeAttribs: TypeAttrib[] = []
    const out: ReturnType<typeof programLines> = { typeAttribs }
    if (form.costs !== undefined) {
      if (!Array.isArray(form.costs)) throw new RestFault(1003, 'costs must be a JSON array')
      out.costs = (form.costs as Array<Record<string, unknown>>).map((c) => {
        if (typeof c?.startDate !== 'string' || !/^\d{4}-(0[1-9]|1[0-2])-\d{2}/.test(c.startDate)) throw new RestFault(1003, 'Invalid cost startDate')
        if (typeof c.cost !== 'number' || !Number.isInteger(c.cost)) throw new RestFault(1001, `Invalid value '${String(c.cost).slice(0, 20)}'. Required of type 'Integer'`)
        const line: { month: string, amount: string, note?: string } = { month: c.startDate.slice(0, 7), amount: String(c.cost) }
        if (typeof c.note === 'string') line.note = c.note
        typeAttribs.push({ attrType: 'Cost', attribs: [{ name: 'Month', value: line.month }, { name: 'Amount', value: line.amount }, ...(line.note !== undefined ? [{ name: 'Note', value: line.note }] : [])] })
        return line
      })
    }
    if (form.tags !== undefined) {
      if (!Array.isArray(form.tags)) throw new RestFault(1003, 'tags must be a JSON array')
      out.tags = (form.tags as Array<Record<string, unknown>>).map((t) => {
        if (typeof t?.tagType !== 'string' || typeof t.tagValue !== 'string') throw new RestFault(1003, 'A tag needs tagType and tagValue')
        typeAttribs.push({ attrType: 'Tag', attribs: [{ name: 'Type', value: t.tagType }, { name: 'Value', value: t.tagValue }] })
        return { type: t.tagType, value: t.tagValue }
      })
    }
    return out
  }

  function programFault (err: unknown): never {
    if (!(err instanceof ProgramRefusal)) throw err
    if (err.reason === 'folder-not-found') throw new RestFault(710, `Parent Folder Not Found: ${err.message}`)
    throw new RestFault(709, err.message)
  }

  // Update Program (programs.md): description, name, tags and costs only; channel and type are set
  // at creation. costs are appended unless costsDestructiveUpdate replaces them all.
  const PROGRAM_UPDATE_FIELDS = new Set(['name', 'description', 'costs', 'costsDestructiveUpdate', 'tags', 'startDate', 'endDate'])

  function updateProgram (id: number, form: Record<string, unknown>, entry: LedgerEntry): Record<string, unknown> {
    for (const name of Object.keys(form)) {
      if (name === 'channel' || name === 'type') throw new RestFault(709, `Business Rule Violation: the program ${name} can only be set when the program is created`)
      if (!PROGRAM_UPDATE_FIELDS.has(name)) throw new RestFault(1003, `Invalid data: ${name.slice(0, 40)} cannot be updated`)
    }
    const destructive = form.costsDestructiveUpdate
    if (destructive !== undefined && destructive !== 'true' && destructive !== 'false') throw new RestFault(1001, `Invalid value '${String(destructive).slice(0, 20)}'. Required of type 'Boolean'`)
    const lines = programLines(form)
    const obj: MObject = { type: 'Program', id, typeAttribs: lines.typeAttribs }
    entry.objects = [obj]
    entry.syncOperation = 'UPDATE'
    const before = ctx.store.program(id)?.updatedAt
    let program: Readonly<StoredProgram>
    try {
      program = ctx.store.updateProgram(id, {
        ...(typeof form.name === 'string' ? { name: form.name } : {}),
        ...(typeof form.description === 'string' ? { description: form.description } : {}),
        ...(lines.costs !== undefined ? { costs: lines.costs } : {}),
        ...(lines.tags !== undefined ? { tags: lines.tags } : {}),
        costsDestructiveUpdate: destructive === 'true'
      })
    } catch (err) {
      if (err instanceof ProgramRefusal && err.reason === 'not-found') throw new RestFault(702, `Program ${id} not found`)
      programFault(err)
    }
    entry.statuses = [{ id, status: program.updatedAt !== before ? 'UPDATED' : 'UNCHANGED' }]
    entry.applied = true
    return programResponse(program)
  }

  const PROGRAM_TYPES = ['Default', 'Event', 'Event with Webinar', 'Engagement', 'Email']

  /** Create Program (programs.md): folder, name, type and channel required; description, costs, tags optional. */
  function createProgram (form: Record<string, unknown>, entry: LedgerEntry): Record<string, unknown> {
    for (const name of ['folder', 'name', 'type', 'channel']) {
      if (form[name] === undefined || form[name] === '') throw new RestFault(701, `${name} cannot be blank`)
    }
    const folder = form.folder as { id?: unknown, type?: unknown }
    if (typeof folder !== 'object' || folder === null || typeof folder.id !== 'number' || !Number.isInteger(folder.id) || (folder.type !== 'Folder' && folder.type !== 'Program')) {
      throw new RestFault(1003, 'Invalid data: folder must be {"id": <integer>, "type": "Folder"}')
    }
    if (typeof form.type !== 'string' || !PROGRAM_TYPES.includes(form.type)) throw new RestFault(1003, `Invalid data: type must be one of ${PROGRAM_TYPES.join(', ')}`)
    const lines = programLines(form)
    entry.syncOperation = 'INSERT'
    let program: Readonly<StoredProgram>
    try {
      program = ctx.store.createProgram({
        name: String(form.name),
        type: form.type,
        channel: String(form.channel),
        folderId: folder.id,
        ...(typeof form.description === 'string' ? { description: form.description } : {}),
        ...(lines.costs !== undefined ? { costs: lines.costs } : {}),
        ...(lines.tags !== undefined ? { tags: lines.tags } : {})
      })
    } catch (err) {
      programFault(err)
    }
    entry.objects = [{ type: 'Program', id: program.id, typeAttribs: lines.typeAttribs }]
    entry.statuses = [{ id: program.id, status: 'CREATED' }]
    entry.applied = true
    return programResponse(program)
  }

  /** The store id a delete record names (by its dedupe fields or its marketoGUID), or the row that skips it. */
  function deleteTarget (kind: GuidKind, deleteBy: string, raw: unknown, i: number): number | Row {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return skipped(i, 1003, 'Invalid data: a record must be an object')
    const rec = raw as Record<string, unknown>
    const notFound = skipped(i, NOT_FOUND.code, NOT_FOUND.message)
    if (deleteBy === 'idField') {
      if (typeof rec.marketoGUID !== 'string' || rec.marketoGUID === '') return skipped(i, 1002, 'Missing value for the required parameter marketoGUID')
      return fromGuid(kind, rec.marketoGUID) ?? notFound
    }
    const ext = rec.externalOpportunityId
    if (typeof ext !== 'string' || ext === '') return skipped(i, 1002, 'Missing value for the required parameter externalOpportunityId')
    if (kind === 'opportunity') {
      return ctx.store.findOpportunities((o) => o.fields[opts.externalKeyField] === ext)[0]?.id ?? notFound
    }
    const lead = rec.leadId
    const role = rec.role
    if (typeof lead !== 'number' || !Number.isInteger(lead)) return skipped(i, 1002, 'Missing value for the required parameter leadId')
    if (typeof role !== 'string' || role === '') return skipped(i, 1002, 'Missing value for the required parameter role')
    return ctx.store.findRoles((r, o) => r.personId === lead && r.fields.Role === role && o?.fields[opts.externalKeyField] === ext)[0]?.id ?? notFound
  }

  /** Delete Opportunities / Delete Opportunity Roles: one store.remove per record, the SOAP face's
   *  deleteMObjects, so deleting an opportunity takes its roles with it here too. */
  function deleteRecords (kind: GuidKind, body: Record<string, unknown>, entry: LedgerEntry, knob: Knob | undefined): Row[] {
    const deleteBy = body.deleteBy ?? 'dedupeFields'
    if (deleteBy !== 'dedupeFields' && deleteBy !== 'idField') throw new RestFault(1003, 'Invalid deleteBy: expected dedupeFields or idField')
    const input = body.input
    if (!Array.isArray(input)) throw new RestFault(701, 'input cannot be blank')
    if (input.length > MAX_REST_RECORDS) throw new RestFault(1003, `Too many records: ${input.length}, the maximum is ${MAX_REST_RECORDS}`)
    const type = kind === 'opportunity' ? 'Opportunity' : 'OpportunityPersonRole'
    const fail = new Set(knob?.failObjects ?? [])
    const objects: MObject[] = []
    const statuses: MObjStatus[] = []
    const rows = input.map((raw: unknown, i: number): Row => {
      if (fail.has(i) && knob?.failReason !== undefined) return skipped(i, knob.failReason, RECORD_REASON_TEXT[knob.failReason] ?? 'Invalid data')
      if (crmSync) return skipped(i, 1018, RECORD_REASON_TEXT[1018])
      const target = deleteTarget(kind, deleteBy, raw, i)
      if (typeof target !== 'number') return target
      const obj: MObject = { type, id: target }
      objects.push(obj)
      const status = ctx.store.remove([obj], { failObjects: fail.has(i) ? new Set([0]) : undefined })[0]
      statuses.push(status)
      if (status.status === 'DELETED') return { seq: i, marketoGUID: toGuid(kind, target), status: 'deleted' }
      // UNCHANGED: no such record (a GUID never issued, or one deleted before, in this call too).
      if (status.status === 'UNCHANGED') return skipped(i, NOT_FOUND.code, NOT_FOUND.message)
      return skipped(i, 1003, status.error ?? 'Invalid data')
    })
    entry.objects = objects
    entry.statuses = statuses
    entry.applied = statuses.some((s) => s.status === 'DELETED')
    return rows
  }

  /** batchSize (default and maximum 300, opportunities.md) and nextPageToken of a lookup. */
  function readPage (params: URLSearchParams, query: string): { afterId: number, size: number } {
    const batch = params.get('batchSize')
    let size = MAX_REST_RECORDS
    if (batch !== null) {
      if (!/^\d{1,10}$/.test(batch) || Number(batch) < 1 || Number(batch) > MAX_REST_RECORDS) throw new RestFault(1003, `Invalid batchSize '${batch.slice(0, 20)}': expected 1 to ${MAX_REST_RECORDS}`)
      size = Number(batch)
    }
    const token = params.get('nextPageToken')
    // An empty token is a first page (a client passing "no token yet"), not a bad one.
    if (token === null || token === '') return { afterId: 0, size }
    let pos: { q?: unknown, a?: unknown } | null = null
    try { pos = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) } catch { /* answered below */ }
    if (pos?.q !== queryDigest(query) || typeof pos.a !== 'number' || !Number.isInteger(pos.a)) throw new RestFault(1003, 'Invalid nextPageToken')
    return { afterId: pos.a, size }
  }

  // A token carries the last id served and a digest of the query it belongs to (as getMObjects'
  // streamPosition does), so it is only good for the lookup that issued it, and stays short however
  // many filterValues the query has (Marketo's tokens are a few dozen characters); to clients it is opaque.
  function queryDigest (query: string): string {
    return createHash('sha256').update(query).digest('base64url').slice(0, 22)
  }

  function pageToken (query: string, lastId: number): string {
    return Buffer.from(JSON.stringify({ q: queryDigest(query), a: lastId })).toString('base64url')
  }

  // Without a fields parameter a lookup answers a default set (fields "returns additional
  // opportunity fields", opportunities.md): the Query example's fields for opportunities, the
  // idField and compound dedupe key for roles.
  const DEFAULT_FIELDS: Record<GuidKind, readonly string[]> = {
    opportunity: ['marketoGUID', 'externalOpportunityId', 'name', 'description', 'amount'],
    role: ['marketoGUID', 'externalOpportunityId', 'leadId', 'role']
  }

  /** The fields parameter (a comma list, or the compound query's array): REST names from the describe. */
  function selectedFields (kind: GuidKind, requested: string[], names: Map<string, string>): string[] {
    const list = requested.join(',').split(',').map((f) => f.trim()).filter((f) => f !== '')
    if (list.length === 0) return [...DEFAULT_FIELDS[kind]]
    const known = new Set(names.values())
    return list.map((f) => {
      // REST names exactly; the docs' own compound example spells the idField "marketoGuid".
      const name = f === 'marketoGuid' ? 'marketoGUID' : known.has(f) ? f : undefined
      if (name === undefined) throw new RestFault(1006, `Field '${f.slice(0, 80)}' not found`)
      return name
    })
  }

  // A requested field without a value is left out: "a requested field that is not returned has an
  // implied value of null" (opportunities.md).
  function select (record: Record<string, unknown>, fields: string[]): Record<string, unknown> {
    const out: Record<string, unknown> = { seq: record.seq, marketoGUID: record.marketoGUID }
    for (const f of fields) if (Object.hasOwn(record, f) && !Object.hasOwn(out, f)) out[f] = record[f]
    return out
  }

  /** A lookup: a filterType and its values (single fields), or the compound key's input records. */
  interface LookupQuery { filterType: string, values: string[], input?: Array<Record<string, unknown>>, fields: string[], params: URLSearchParams }

  function queryFromParams (params: URLSearchParams): LookupQuery {
    const filterType = params.get('filterType') ?? ''
    const values = params.getAll('filterValues').join(',').split(',').map((v) => v.trim()).filter((v) => v !== '')
    if (filterType === '' || values.length === 0) throw new RestFault(701, 'filterType and filterValues cannot be blank')
    return { filterType, values, fields: params.getAll('fields'), params }
  }

  /** The compound-key query (POST ?_method=GET with a JSON body, opportunity-roles.md). */
  function queryFromJson (body: unknown, params: URLSearchParams): LookupQuery {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RestFault(609, 'Invalid JSON: expected an object')
    const b = body as Record<string, unknown>
    if (typeof b.filterType !== 'string' || b.filterType === '') throw new RestFault(701, 'filterType cannot be blank')
    if (!Array.isArray(b.input) || b.input.length === 0) throw new RestFault(701, 'input cannot be blank')
    if (b.fields !== undefined && (!Array.isArray(b.fields) || !b.fields.every((f) => typeof f === 'string'))) throw new RestFault(1003, 'Invalid data: fields must be an array of names')
    if (b.input.some((r) => typeof r !== 'object' || r === null || Array.isArray(r))) throw new RestFault(1003, 'Invalid data: each input must be an object')
    const page = new URLSearchParams(params)
    if (typeof b.batchSize === 'number') page.set('batchSize', String(b.batchSize))
    if (typeof b.nextPageToken === 'string') page.set('nextPageToken', b.nextPageToken)
    return { filterType: b.filterType, values: [], input: b.input as Array<Record<string, unknown>>, fields: (b.fields as string[] | undefined) ?? [], params: page }
  }

  /** Get Opportunities / Get Opportunity Roles: one page of the matches, in internal id order. */
  function lookup (path: string, q: LookupQuery): Record<string, unknown> {
    const { filterType, values } = q
    const count = q.input?.length ?? values.length
    if (count > MAX_REST_RECORDS) throw new RestFault(1003, `Too many filterValues: the maximum is ${MAX_REST_RECORDS}`)
    const kind: GuidKind = path === '/rest/v1/opportunities.json' ? 'opportunity' : 'role'
    const names = restNames(kind)
    const fields = selectedFields(kind, q.fields, names)
    const query = JSON.stringify([path, filterType, values, q.input ?? null])
    const { afterId, size } = readPage(q.params, query)
    const page = <T extends { id: number }>(all: T[]): { rows: T[], more: boolean } => {
      const remaining = all.filter((r) => r.id > afterId)
      return { rows: remaining.slice(0, size), more: remaining.length > size }
    }
    const ext = (o: Readonly<StoredOpportunity> | undefined): string | undefined => o?.fields[opts.externalKeyField]
    let records: Array<Record<string, unknown>>
    let more: boolean
    let lastId = afterId
    if (kind === 'opportunity') {
      let matches: Array<Readonly<StoredOpportunity>>
      if (q.input !== undefined) {
        if (filterType !== 'dedupeFields' && filterType !== 'externalOpportunityId') throw new RestFault(1003, `Invalid filterType '${filterType.slice(0, 40)}' for a compound query: expected dedupeFields`)
        const keys = new Set(q.input.map((r) => r.externalOpportunityId).filter((v): v is string => typeof v === 'string'))
        matches = ctx.store.findOpportunities((o) => keys.has(ext(o) ?? '\u0000'))
      } else if (filterType === 'marketoGUID') {
        matches = ctx.store.findOpportunities((o) => values.includes(toGuid('opportunity', o.id)))
      } else if (filterType === 'externalOpportunityId' || filterType === 'dedupeFields') {
        // dedupeFields is the describe's dedupe key, externalOpportunityId alone for opportunities.
        matches = ctx.store.findOpportunities((o) => values.includes(ext(o) ?? '\u0000'))
      } else {
        throw new RestFault(1003, `Invalid filterType '${filterType.slice(0, 40)}': expected externalOpportunityId, dedupeFields or marketoGUID`)
      }
      const p = page(matches)
      records = p.rows.map((o, i) => opportunityRecord(o, i, names))
      more = p.more
      lastId = p.rows.at(-1)?.id ?? afterId
    } else {
      let matches: Array<Readonly<StoredRole>>
      if (q.input !== undefined) {
        if (filterType !== 'dedupeFields') throw new RestFault(1003, `Invalid filterType '${filterType.slice(0, 40)}' for a compound query: expected dedupeFields`)
        const keys = new Set(q.input.map((r) => JSON.stringify([r.externalOpportunityId, r.leadId, r.role])))
        matches = ctx.store.findRoles((r, o) => keys.has(JSON.stringify([ext(o), r.personId, r.fields.Role])))
      } else if (filterType === 'marketoGUID') {
        matches = ctx.store.findRoles((r) => values.includes(toGuid('role', r.id)))
      } else if (filterType === 'leadId') {
        matches = ctx.store.findRoles((r) => values.includes(String(r.personId)))
      } else if (filterType === 'externalOpportunityId') {
        matches = ctx.store.findRoles((_r, o) => values.includes(ext(o) ?? '\u0000'))
      } else if (filterType === 'dedupeFields') {
        throw new RestFault(1003, 'Invalid data: the compound dedupeFields key is queried by POST ?_method=GET with a JSON input')
      } else {
        throw new RestFault(1003, `Invalid filterType '${filterType.slice(0, 40)}': expected externalOpportunityId, leadId, marketoGUID or dedupeFields`)
      }
      const p = page(matches)
      records = p.rows.map((r, i) => roleRecord(r, i, names))
      more = p.more
      lastId = p.rows.at(-1)?.id ?? afterId
    }
    const result = records.map((r) => select(r, fields))
    return more ? { result, moreResult: true, nextPageToken: pageToken(query, lastId) } : { result, moreResult: false }
  }

  const NO_ASSETS = 'No assets found for the given search criteria.'

  /** Get Program by Name (programs.md): name required; includeTags and includeCosts add those. */
  function programByName (params: URLSearchParams): Record<string, unknown> {
    const name = params.get('name')
    if (name === null || name === '') throw new RestFault(701, 'name cannot be blank')
    const include = { tags: params.get('includeTags') === 'true', costs: params.get('includeCosts') === 'true' }
    const found = ctx.store.findPrograms((p) => p.name === name)
    return found.length === 0 ? { errors: [], warnings: [NO_ASSETS] } : { errors: [], warnings: [], result: found.map((p) => programResponse(p, include)) }
  }

  /** maxReturn (default 20, at most 200) and offset (default 0) of the Asset API's lists. */
  function assetPage (params: URLSearchParams): { offset: number, max: number } {
    const int = (name: string, dflt: number, lo: number, hi: number): number => {
      const v = params.get(name)
      if (v === null || v === '') return dflt
      if (!/^\d{1,10}$/.test(v) || Number(v) < lo || Number(v) > hi) throw new RestFault(1003, `Invalid ${name} '${v.slice(0, 20)}': expected ${lo} to ${hi}`)
      return Number(v)
    }
    return { offset: int('offset', 0, 0, 2_147_483_647), max: int('maxReturn', 20, 1, 200) }
  }

  /** Get Programs by Tag (programs.md): tagType and tagValue required; the programs with their tags (the docs' example), no costs. */
  function programsByTag (params: URLSearchParams): Record<string, unknown> {
    const tagType = params.get('tagType')
    const tagValue = params.get('tagValue')
    if (tagType === null || tagType === '') throw new RestFault(701, 'tagType cannot be blank')
    if (tagValue === null || tagValue === '') throw new RestFault(701, 'tagValue cannot be blank')
    const { offset, max } = assetPage(params)
    const found = ctx.store.findPrograms((p) => p.tags.some((t) => t.type === tagType && t.value === tagValue)).slice(offset, offset + max)
    return found.length === 0 ? { errors: [], warnings: [NO_ASSETS] } : { errors: [], warnings: [], result: found.map((p) => programResponse(p, { tags: true, costs: false })) }
  }

  /** Get Programs (programs.md, Browse): maxReturn and offset; "This endpoint does not return program tags" (nor costs). */
  function browsePrograms (params: URLSearchParams): Record<string, unknown> {
    const { offset, max } = assetPage(params)
    const found = ctx.store.findPrograms(() => true).slice(offset, offset + max)
    return found.length === 0 ? { errors: [], warnings: [NO_ASSETS] } : { errors: [], warnings: [], result: found.map((p) => programResponse(p, { tags: false, costs: false })) }
  }

  async function data (req: IncomingMessage, res: ServerResponse, path: string, query: string): Promise<void> {
    const stats = ctx.stats
    stats.totalCalls++
    stats.currentConcurrent++
    if (stats.currentConcurrent > stats.peakConcurrent) stats.peakConcurrent = stats.currentConcurrent
    let admitted = false
    res.once('close', () => {
      stats.currentConcurrent--
      if (admitted) ctx.limits.release()
    })
    const params = new URLSearchParams(query)
    const contentType = String(req.headers['content-type'] ?? '')
    const auth = String(req.headers.authorization ?? '')
    const entry: LedgerEntry = {
      seq: ++seq,
      operation: '',
      receivedAt: ctx.clock().toISOString(),
      applied: false,
      face: 'rest',
      rest: { method: req.method ?? '', path, query: params.has('access_token') ? '[access_token]' : query, contentType, tokenIn: params.has('access_token') ? 'query' : auth.startsWith('Bearer ') ? 'header' : 'none' }
    }
    if (typeof req.headers.traceparent === 'string') entry.traceparent = req.headers.traceparent
    let knob: Knob | undefined
    if (ctx.inspection) {
      ctx.ledger.push(entry)
      if (ctx.ledger.length > 100_000) ctx.ledger.splice(0, ctx.ledger.length - 100_000)
    }
    const answerError = (code: number, message: string): void => {
      entry.rest!.errorCode = String(code)
      entry.httpStatus = 200
      stats.faultsByCode[code] = (stats.faultsByCode[code] ?? 0) + 1
      failure(res, code, message)
    }
    try {
      if (Buffer.byteLength(req.url ?? '') > MAX_REST_URI_BYTES) {
        entry.httpStatus = 414
        send(res, 414, '414 Request-URI Too Large', 'text/plain', { Connection: 'close' })
        req.resume()
        return
      }
      const raw = req.method === 'POST' ? await readBody(req, Math.min(ctx.maxBodyBytes, MAX_REST_BODY_BYTES)) : Buffer.alloc(0)
      if (raw === 'too-large') {
        entry.httpStatus = 413
        send(res, 413, '413 Request Entity Too Large', 'text/plain', { Connection: 'close' })
        req.resume()
        return
      }
      const programMatch = /^\/rest\/asset\/v1\/program\/(\d{1,10})\.json$/.exec(path)
      // POST ?_method=GET: a read whose query string is in the body (error-codes.md 414), or the
      // compound-key query's JSON (opportunity-roles.md).
      const readByPost = req.method === 'POST' && params.get('_method') === 'GET'
      const isForm = /^application\/x-www-form-urlencoded\b/i.test(contentType)
      let body: unknown
      let readParams = params
      if (req.method === 'POST') {
        const text = raw.toString('utf8')
        if (readByPost && isForm) {
          readParams = new URLSearchParams(query)
          readParams.delete('_method')
          for (const [k, v] of new URLSearchParams(text)) readParams.append(k, v)
          body = text
        } else if (!readByPost && (programMatch || path === '/rest/asset/v1/programs.json')) {
          if (!isForm) throw new RestFault(612, 'Invalid Content Type')
          const form: Record<string, unknown> = {}
          for (const [k, v] of new URLSearchParams(text)) {
            try { form[k] = k === 'costs' || k === 'tags' || k === 'folder' ? JSON.parse(v) : v } catch { throw new RestFault(609, `Invalid JSON in ${k.slice(0, 20)}`) }
          }
          body = form
        } else {
          if (!/^application\/json\b/i.test(contentType)) throw new RestFault(612, 'Invalid Content Type')
          try { body = JSON.parse(text) } catch { throw new RestFault(609, 'Invalid JSON') }
        }
        entry.rest!.body = body
      }

      // The token: only in the Authorization header (the access_token parameter is gone).
      if (entry.rest!.tokenIn !== 'header') throw new RestFault(601, 'Access token invalid')
      const token = auth.slice('Bearer '.length).trim()
      const expires = tokens.get(token)
      if (expires === undefined) throw new RestFault(601, 'Access token invalid')
      if (ctx.clock().getTime() >= expires) throw new RestFault(602, 'Access token expired')
      // Knobs act on authenticated data calls: a token refresh does not use one up.
      knob = ctx.inspection ? ctx.knobs.next() : undefined
      if (knob) entry.knob = knob

      if (knob && (knob.fault !== undefined || knob.html502 || knob.empty200 || knob.hostile || knob.resetBeforeApply)) {
        if (knob.latencyMs) await new Promise((resolve) => setTimeout(resolve, knob?.latencyMs))
        if (knob.resetBeforeApply) { resetConnection(req); return }
        if (knob.fault !== undefined) {
          const rest = RESPONSE_ERROR_TEXT[knob.fault] !== undefined || (knob.fault >= 600 && knob.fault < 2000)
          const code = rest ? knob.fault : SOAP_TO_REST[knob.fault] ?? 1003
          throw new RestFault(code, RESPONSE_ERROR_TEXT[code] ?? `Simulated error (injected ${knob.fault})`)
        }
        if (knob.html502) { entry.httpStatus = 502; send(res, 502, HTML_502, 'text/html'); return }
        entry.httpStatus = 200
        send(res, 200, knob.empty200 ? '' : '<?xml version="1.0"?><html/>', knob.empty200 ? JSON_TYPE : 'text/xml')
        return
      }

      try {
        ctx.limits.admit(ctx.clock())
      } catch (err) {
        if (err instanceof SimulatorFault) throw new RestFault(SOAP_TO_REST[err.code] ?? 611, err.code === 20023 ? 'Max rate limit \'100\' exceeded with in \'20\' secs' : err.code === 20024 ? 'Concurrent access limit reached' : err.code === 20015 ? 'Daily quota reached' : err.detailMessage)
        throw err
      }
      admitted = true
      if (knob?.latencyMs) await new Promise((resolve) => setTimeout(resolve, knob?.latencyMs))

      const isRecords = path === '/rest/v1/opportunities.json' || path === '/rest/v1/opportunities/roles.json'
      // "Opportunity Role APIs are available only for subscriptions that do not have native CRM sync enabled."
      if (crmSync && path.startsWith('/rest/v1/opportunities/roles')) throw new RestFault(1018, RESPONSE_ERROR_TEXT[1018])
      const method = readByPost ? 'GET' : req.method
      let answer: Record<string, unknown>
      if (isRecords && method === 'POST') {
        const kind = path === '/rest/v1/opportunities.json' ? 'opportunity' : 'role'
        entry.operation = 'syncMObjects'
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RestFault(609, 'Invalid JSON: expected an object')
        const rows = adjustRows(syncRecords(kind, body as Record<string, unknown>, entry, knob), knob, 'updated')
        answer = { requestId: requestId(), success: true, result: rows }
      } else if (isRecords && method === 'GET') {
        entry.operation = 'getMObjects'
        const q = readByPost && !isForm ? queryFromJson(body, params) : queryFromParams(readParams)
        const found = lookup(path, q)
        entry.applied = true
        answer = { requestId: requestId(), success: true, ...found }
      } else if ((path === '/rest/v1/opportunities/delete.json' || path === '/rest/v1/opportunities/roles/delete.json') && method === 'POST') {
        entry.operation = 'deleteMObjects'
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RestFault(609, 'Invalid JSON: expected an object')
        const kind = path === '/rest/v1/opportunities/delete.json' ? 'opportunity' : 'role'
        answer = { requestId: requestId(), success: true, result: adjustRows(deleteRecords(kind, body as Record<string, unknown>, entry, knob), knob, 'deleted') }
      } else if ((path === '/rest/v1/opportunities/describe.json' || path === '/rest/v1/opportunities/roles/describe.json') && method === 'GET') {
        entry.operation = 'describeMObject'
        answer = { requestId: requestId(), success: true, result: [describeObject(path === '/rest/v1/opportunities/describe.json' ? 'opportunity' : 'role')] }
        entry.applied = true
      } else if (programMatch && method === 'POST') {
        entry.operation = 'syncMObjects'
        answer = { requestId: requestId(), success: true, errors: [], warnings: [], result: [updateProgram(Number(programMatch[1]), body as Record<string, unknown>, entry)] }
      } else if (path === '/rest/asset/v1/programs.json' && method === 'POST') {
        entry.operation = 'syncMObjects'
        answer = { requestId: requestId(), success: true, errors: [], warnings: [], result: [createProgram(body as Record<string, unknown>, entry)] }
      } else if (programMatch && method === 'GET') {
        entry.operation = 'getMObjects'
        const program = ctx.store.program(Number(programMatch[1]))
        entry.applied = true
        answer = program === undefined
          ? { requestId: requestId(), success: true, errors: [], warnings: [NO_ASSETS] }
          : { requestId: requestId(), success: true, errors: [], warnings: [], result: [programResponse(program)] }
      } else if (path === '/rest/asset/v1/program/byName.json' && method === 'GET') {
        entry.operation = 'getMObjects'
        answer = { requestId: requestId(), success: true, ...programByName(readParams) }
        entry.applied = true
      } else if (path === '/rest/asset/v1/programs.json' && method === 'GET') {
        entry.operation = 'getMObjects'
        answer = { requestId: requestId(), success: true, ...browsePrograms(readParams) }
        entry.applied = true
      } else if (path === '/rest/asset/v1/program/byTag.json' && method === 'GET') {
        entry.operation = 'getMObjects'
        answer = { requestId: requestId(), success: true, ...programsByTag(readParams) }
        entry.applied = true
      } else {
        throw new RestFault(610, 'Requested resource not found')
      }

      if (knob?.resetAfterApply) { resetConnection(req); return }
      const text = JSON.stringify(answer)
      entry.httpStatus = 200
      if (knob?.truncated) { send(res, 200, text.slice(0, Math.floor(text.length / 2)), JSON_TYPE); return }
      send(res, 200, text, JSON_TYPE)
    } catch (err) {
      if (err instanceof RestFault) {
        answerError(err.code, err.message)
      } else {
        ctx.logger?.warn({ err }, 'simulator REST face: unexpected error')
        answerError(611, 'System error')
      }
    }
  }

  const handle = (req: IncomingMessage, res: ServerResponse, path: string, query: string): void => {
    const run = path.startsWith('/identity/') ? identity(req, res, path, query) : data(req, res, path, query)
    run.catch((err: unknown) => {
      ctx.logger?.warn({ err }, 'simulator REST face: failed to answer')
      if (!res.headersSent) failure(res, 611, 'System error')
      else res.destroy()
    })
  }
  return { handle, control }
}
