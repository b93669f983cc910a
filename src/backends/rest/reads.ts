import { GatewayError } from '../../domain/errors.js'
import { OPPORTUNITY_FIELDS } from '../../domain/fields.js'
import type { FieldMetadata, GetMObjectsPage, GetMObjectsQuery, ObjectMetadata, ReadMObject } from '../../domain/queries.js'
import type { Attrib, MObjStatus, TypeAttrib } from '../../domain/model.js'
import type { DeleteTarget, MarketoBackend, PreparedCall } from '../../upstream/backend.js'
import type { RestEnvelope } from './errors.js'
import { firstError, restError } from './errors.js'
import type { RestRequest } from './client.js'
import { REST_UNSUPPORTED } from './errors.js'
import type { CallHints } from '../../upstream/transport.js'
import { MAX_RECORDS_PER_REST_CALL } from './mapping.js'

// getMObjects, describeMObject and deleteMObjects on the REST API (the same seam as the SOAP
// backend, src/upstream/reader.ts): opportunities and roles through the Opportunity endpoints, programs
// through the Asset API. REST names records by marketoGUID or external key, never by the SOAP
// integer ids, and filters on one field per call; what it cannot express answers 400 (or 501)
// before any call, saying what to use instead.

export interface RestReadOptions {
  /** The externalKey name that is REST's externalOpportunityId. */
  externalKeyField: string
  quotaRetryAfterMs?: number
  /** The path of the endpoint URL (empty for https://123-ABC-456.mktorest.com): part of every request URI. */
  endpointPath?: string
}

/** "Standard API calls have a maximum URI length of 8 KB" (rest-api.md; longer ones answer 414). */
export const MAX_REST_URI_BYTES = 8 * 1024

export interface RestSender {
  send (req: RestRequest, hints: CallHints): Promise<RestEnvelope>
}

/** Records per REST page when the route does not say: the SOAP page size. */
export const REST_READ_PAGE = 100

const OPPORTUNITY_PATHS = { get: '/rest/v1/opportunities.json', describe: '/rest/v1/opportunities/describe.json', delete: '/rest/v1/opportunities/delete.json' }
const ROLE_PATHS = { get: '/rest/v1/opportunities/roles.json', describe: '/rest/v1/opportunities/roles/describe.json', delete: '/rest/v1/opportunities/roles/delete.json' }
const REST_TO_SOAP = new Map<string, { marketo: string, kind: string }>(OPPORTUNITY_FIELDS.map((f) => [f.key, { marketo: f.marketo, kind: f.kind }]))
const ROLE_REST_TO_SOAP = new Map([['role', 'Role'], ['isPrimary', 'IsPrimary'], ['externalCreatedDate', 'ExternalCreatedDate']])
/** Describe names of role fields that are record identity on REST but fields in the gateway's model. */
const ROLE_DESCRIBE_NAMES = new Map([...ROLE_REST_TO_SOAP, ['leadId', 'PersonId']])
/**
 * The fields a read asks for when its query names none (a REST read returns only the fields it
 * names; without `fields` Marketo answers a default few). The routes name every field of the
 * cached describe instead, so custom fields and what an instance adds come back too.
 */
const OPPORTUNITY_READ_FIELDS = ['marketoGUID', 'externalOpportunityId', ...OPPORTUNITY_FIELDS.map((f) => f.key), 'createdAt', 'updatedAt']
const ROLE_READ_FIELDS = ['marketoGUID', 'externalOpportunityId', 'leadId', 'role', 'isPrimary', 'externalCreatedDate', 'createdAt', 'updatedAt']
/** Gateway (describe) field names back to REST names: the inverse of the describe's mapping. */
const SOAP_TO_REST_NAME = new Map<string, string>(OPPORTUNITY_FIELDS.map((f) => [f.marketo, f.key]))
const ROLE_SOAP_TO_REST_NAME = new Map<string, string>([...[...ROLE_REST_TO_SOAP].map(([rest, soap]): [string, string] => [soap, rest]), ['PersonId', 'leadId']])
/** Record keys that are identity or bookkeeping, not fields. */
const RECORD_META = new Set(['seq', 'marketoGUID', 'createdAt', 'updatedAt', 'externalOpportunityId', 'externalCompanyId', 'leadId', 'reasons'])
/** The opportunity's company link on REST: the company's externalCompanyId (the Company object's dedupe key). */
export const REST_COMPANY_KEY = 'externalCompanyId'

const SOAP_ONLY_ID = 'integer ids are SOAP-only: name opportunities and roles by marketoGUID or external key'
const PROGRAM_BY_NAME_PATH = '/rest/asset/v1/program/byName.json'
const PROGRAM_BY_TAG_PATH = '/rest/asset/v1/program/byTag.json'
const PROGRAMS_PATH = '/rest/asset/v1/programs.json'
/** maxReturn of the Asset API's lists: "the maximum is 200" (programs.md). */
export const MAX_ASSET_RETURN = 200
export const PROGRAM_TAG_PAIR = 'Get Programs by Tag takes a tag type and a tag value together: give both tagType and tagValue (or name, which they then narrow)'
export const PROGRAM_WORKSPACE_ID = 'the Asset API names a program\'s workspace, not its id: filter by workspaceName'
/**
 * Programs a page lists by tag or browsing: each is then read by id (one call), so a page stays
 * within the REST default of 50 calls per 20 s (the Asset API's own default page).
 */
export const PROGRAM_DETAIL_PAGE = 20
const PROGRAM_TAG_TOO_MANY = `Get Programs by Tag answers in random order, so it lists a tag's programs faithfully only when they fit in one answer (fewer than ${MAX_ASSET_RETURN}); this tag has more: narrow the list by name`

function refuse (message: string, path?: string): GatewayError {
  return new GatewayError('VALIDATION_FAILED', `${REST_UNSUPPORTED}: ${message}`, path === undefined ? {} : { errors: [{ path, message }] })
}

/** REST timestamps ("2015-05-21T22:45:13Z+0000" in the Asset API) as ISO 8601, or undefined. */
export function restTime (value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined
  const ms = Date.parse(value.replace(/Z\+0000$/, 'Z').replace(/([+-]\d{2})(\d{2})$/, '$1:$2'))
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString()
}

function plain (value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'boolean') return value ? 'true' : 'false'
  if (typeof value === 'number' || typeof value === 'string') return String(value)
  return undefined
}

function stamped (out: ReadMObject, r: Record<string, unknown>): ReadMObject {
  const createdAt = restTime(r.createdAt)
  if (createdAt !== undefined) out.createdAt = createdAt
  const updatedAt = restTime(r.updatedAt)
  if (updatedAt !== undefined) out.updatedAt = updatedAt
  return out
}

function guidOf (r: Record<string, unknown>): string {
  if (typeof r.marketoGUID !== 'string' || r.marketoGUID === '') throw new GatewayError('UPSTREAM_PROTOCOL_ERROR', 'a REST record without marketoGUID', { sent: true })
  return r.marketoGUID
}

function opportunityFromRecord (r: Record<string, unknown>, keyField: string): ReadMObject {
  const out: ReadMObject = { type: 'Opportunity', id: null, marketoGUID: guidOf(r) }
  const ext = plain(r.externalOpportunityId)
  if (ext !== undefined && ext !== '') out.externalKey = { name: keyField, value: ext }
  const attribs: Attrib[] = []
  for (const [key, value] of Object.entries(r)) {
    if (RECORD_META.has(key)) continue
    const text = plain(value)
    if (text === undefined) continue
    // Booleans travel as SOAP's "1"/"0" in the internal model.
    const standard = REST_TO_SOAP.get(key)
    if (standard !== undefined) attribs.push({ name: standard.marketo, value: standard.kind === 'boolean' && typeof value === 'boolean' ? (value ? '1' : '0') : text })
    else attribs.push({ name: key, value: text })
  }
  if (attribs.length > 0) out.attribs = attribs
  const company = plain(r.externalCompanyId)
  if (company !== undefined && company !== '') out.associations = [{ mObjType: 'Company', externalKey: { name: REST_COMPANY_KEY, value: company } }]
  return stamped(out, r)
}

function roleFromRecord (r: Record<string, unknown>, keyField: string): ReadMObject {
  const out: ReadMObject = { type: 'OpportunityPersonRole', id: null, marketoGUID: guidOf(r) }
  const attribs: Attrib[] = []
  for (const [key, soap] of ROLE_REST_TO_SOAP) {
    const value = r[key]
    const text = plain(value)
    if (text !== undefined) attribs.push({ name: soap, value: typeof value === 'boolean' ? (value ? '1' : '0') : text })
  }
  const lead = Number(r.leadId)
  if (Number.isSafeInteger(lead) && lead > 0) attribs.push({ name: 'PersonId', value: String(lead) })
  if (attribs.length > 0) out.attribs = attribs
  const ext = plain(r.externalOpportunityId)
  if (ext !== undefined && ext !== '') out.associations = [{ mObjType: 'Opportunity', externalKey: { name: keyField, value: ext } }]
  return stamped(out, r)
}

function programFromAsset (r: Record<string, unknown>): ReadMObject {
  const id = Number(r.id)
  if (!Number.isSafeInteger(id) || id <= 0) throw new GatewayError('UPSTREAM_PROTOCOL_ERROR', 'a REST program without an id', { sent: true })
  const attribs: Attrib[] = []
  const add = (name: string, value: unknown): void => { const t = plain(value); if (t !== undefined) attribs.push({ name, value: t }) }
  add('Name', r.name)
  add('Type', r.type)
  add('Workspace Name', r.workspace)
  // The Asset API names only the folder the program is in (folder.folderName), not its tree path:
  // it is the program's folderName, and treePath stays SOAP-only rather than holding a partial path.
  const folder = r.folder as { folderName?: unknown } | undefined
  if (folder !== undefined && folder !== null) add('Folder Name', folder.folderName)
  const typeAttribs: TypeAttrib[] = []
  const tags = Array.isArray(r.tags) ? r.tags as Array<{ tagType?: unknown, tagValue?: unknown }> : []
  for (const t of tags) typeAttribs.push({ attrType: 'Tag', attribs: [{ name: 'Type', value: plain(t.tagType) ?? '' }, { name: 'Value', value: plain(t.tagValue) ?? '' }] })
  // The Asset API gives the channel on its own; the internal model keeps it as a Channel tag.
  const channel = plain(r.channel)
  if (channel !== undefined && channel !== '' && !tags.some((t) => t.tagType === 'Channel')) {
    typeAttribs.unshift({ attrType: 'Tag', attribs: [{ name: 'Type', value: 'Channel' }, { name: 'Value', value: channel }] })
  }
  const costs = Array.isArray(r.costs) ? r.costs as Array<{ startDate?: unknown, cost?: unknown, note?: unknown }> : []
  for (const c of costs) {
    // A period cost starts on the first of its month; the Asset API has no cost ids.
    const month = /^(\d{4}-\d{2})/.exec(plain(c.startDate) ?? '')?.[1] ?? ''
    const cost: Attrib[] = [{ name: 'Month', value: month }, { name: 'Amount', value: plain(c.cost) ?? '' }]
    const note = plain(c.note)
    if (note !== undefined) cost.push({ name: 'Note', value: note })
    typeAttribs.push({ attrType: 'Cost', attribs: cost })
  }
  const out: ReadMObject = { type: 'Program', id, attribs }
  if (typeAttribs.length > 0) out.typeAttribs = typeAttribs
  return stamped(out, r)
}

function rows (env: RestEnvelope): Array<Record<string, unknown>> {
  return (env.result ?? []).filter((r): r is Record<string, unknown> => typeof r === 'object' && r !== null)
}

export type RestReads = Pick<MarketoBackend, 'getMObjects' | 'describe' | 'deleteGroup' | 'deleteMObjects'>

export function restReads (client: RestSender, opts: RestReadOptions): RestReads {
  const keyField = opts.externalKeyField
  const failed = (env: RestEnvelope): GatewayError => {
    const e = firstError(env)
    return restError(e.code, e.message, { quotaRetryAfterMs: opts.quotaRetryAfterMs })
  }
  const ok = (env: RestEnvelope): RestEnvelope => {
    if (!env.success) throw failed(env)
    return env
  }

  /** The role's compound key (externalOpportunityId, leadId, role), when the query names all three. */
  interface RoleKey { externalOpportunityId: string, leadId: number, role: string }
  type Lookup = { filterType: string, values: string[] } | { compound: RoleKey[] }

  function lookupFilter (query: GetMObjectsQuery): Lookup {
    const kind = query.type === 'Opportunity' ? 'opportunities' : 'roles'
    if (query.id !== undefined) throw refuse(SOAP_ONLY_ID)
    const filters: Array<{ filterType: string, values: string[] }> = []
    const guids = query.marketoGUIDs ?? (query.marketoGUID !== undefined ? [query.marketoGUID] : [])
    if (guids.length > 0) filters.push({ filterType: 'marketoGUID', values: guids })
    if (query.externalKey !== undefined) {
      if (query.externalKey.name !== keyField) throw refuse(`the external key of an opportunity is "${keyField}" (MARKETO_REST_EXTERNAL_KEY_FIELD), REST's externalOpportunityId`, 'querystring:/externalKey.name')
      filters.push({ filterType: 'externalOpportunityId', values: [query.externalKey.value] })
    }
    if (query.externalKeys !== undefined && query.externalKeys.length > 0) {
      if (query.externalKeys.some((k) => k.name !== keyField)) throw refuse(`the external key of an opportunity is "${keyField}" (MARKETO_REST_EXTERNAL_KEY_FIELD), REST's externalOpportunityId`, 'querystring:/externalKey.name')
      filters.push({ filterType: 'externalOpportunityId', values: query.externalKeys.map((k) => k.value) })
    }
    const opportunityKeys: string[] = []
    let leadId: number | undefined
    for (const a of query.associations ?? []) {
      if (a.mObjType === 'Lead' && a.id !== undefined && kind === 'roles') {
        leadId = a.id
        filters.push({ filterType: 'leadId', values: [String(a.id)] })
      } else if (a.mObjType === 'Opportunity' && a.externalKey !== undefined && kind === 'roles') {
        if (a.externalKey.name !== keyField) throw refuse(`the external key of an opportunity is "${keyField}" (MARKETO_REST_EXTERNAL_KEY_FIELD), REST's externalOpportunityId`, 'querystring:/opportunity.externalKey.name')
        opportunityKeys.push(a.externalKey.value)
      } else if (a.mObjType === 'Opportunity' && a.id !== undefined) throw refuse(SOAP_ONLY_ID, 'querystring:/opportunityId')
      else throw refuse(`${kind} cannot be filtered by ${a.mObjType} on the REST backend`)
    }
    // Roles of several opportunities: one filter, its values read in calls of 300 (see getMObjects).
    if (opportunityKeys.length > 0) filters.push({ filterType: 'externalOpportunityId', values: opportunityKeys })
    const opportunityKey = opportunityKeys.length === 1 ? opportunityKeys[0] : undefined
    const criteria = query.criteria ?? []
    const role = criteria.length === 1 && criteria[0].attrName === 'Role' && criteria[0].comparison === 'EQ' ? criteria[0].attrValue : undefined
    // The compound key (opportunity-roles.md): queried by POST ?_method=GET with a JSON input.
    if (kind === 'roles' && role !== undefined && opportunityKey !== undefined && leadId !== undefined && guids.length === 0) {
      return { compound: [{ externalOpportunityId: opportunityKey, leadId, role }] }
    }
    const by = kind === 'opportunities' ? 'externalKey or marketoGUID' : 'the opportunity\'s external key, personId or marketoGUID'
    if (kind === 'roles' && role !== undefined) throw refuse('the REST API looks a role up by role only with its whole compound key: give the opportunity\'s external key, personId and role together')
    if (criteria.length > 0) throw refuse(`the REST API looks ${kind} up by ${by} only, not by ${[...new Set(criteria.map((c) => c.attrName))].join(', ')}`)
    if (filters.length === 0) throw refuse(`the REST API lists ${kind} only by one filter: give ${by}`)
    if (filters.length > 1) throw refuse(`the REST API filters ${kind} by one field per call: give only one of the filters`)
    const filter = filters[0]
    // filterValues is a comma-separated list: a value with a comma would become two values.
    if (filter.values.some((v) => v.includes(','))) throw refuse('a REST lookup value cannot contain a comma (filterValues is a comma-separated list)')
    return filter
  }

  /** REST names of the fields a read returns: the records' identity and every field the query names (from the describe). */
  function readFields (query: GetMObjectsQuery): string[] {
    const role = query.type === 'OpportunityPersonRole'
    if (query.fields === undefined) return role ? ROLE_READ_FIELDS : OPPORTUNITY_READ_FIELDS
    const identity = role ? ['marketoGUID', 'externalOpportunityId', 'leadId', 'role', 'createdAt', 'updatedAt'] : ['marketoGUID', 'externalOpportunityId', 'createdAt', 'updatedAt']
    const restName = (name: string): string => role ? ROLE_SOAP_TO_REST_NAME.get(name) ?? name : name === keyField ? 'externalOpportunityId' : SOAP_TO_REST_NAME.get(name) ?? name
    return [...new Set([...identity, ...query.fields.map(restName)])]
  }

  /**
   * A read as GET, or, when its URI would pass the 8 KB limit, as POST ?_method=GET with the query
   * string as a form body (error-codes.md, 414): same answer, one call either way.
   */
  function readRequest (path: string, params: Record<string, string>): RestRequest {
    const query = new URLSearchParams(params).toString()
    const uriBytes = Buffer.byteLength(`${opts.endpointPath ?? ''}${path}?${query}`)
    if (uriBytes <= MAX_REST_URI_BYTES) return { method: 'GET', path, query: params }
    return { method: 'POST', path, query: { _method: 'GET' }, contentType: 'application/x-www-form-urlencoded', body: query }
  }

  /**
   * GET /programs on the Asset API. With a name: Get Program by Name (includeTags, includeCosts),
   * the one list that answers programs with their tags and costs. With a tag type and value: Get
   * Programs by Tag, which answers tags but no costs, in random order, so the gateway reads all of
   * a tag's programs in one answer (200 at most) and pages through them in id order itself. With
   * neither: Get Programs (browse), paged by offset, which answers neither tags nor costs. Programs
   * from byTag and browse are marked detailsOmitted: the route reads each by id (Get Program by Id,
   * with tags and costs) before answering. The other filters of the route narrow the answer.
   */
  function programList (query: GetMObjectsQuery): PreparedCall<GetMObjectsPage> {
    const criteria = new Map<string, string>()
    for (const c of query.criteria ?? []) {
      if (c.comparison !== 'EQ' || criteria.has(c.attrName)) throw refuse(`programs are filtered by equal values only on the REST backend (${c.attrName})`)
      criteria.set(c.attrName, c.attrValue)
    }
    const name = criteria.get('Name')
    if (criteria.has('Workspace Id')) throw refuse(PROGRAM_WORKSPACE_ID, 'querystring:/workspaceId')
    for (const attr of criteria.keys()) {
      if (!['Name', 'Tag Type', 'Tag Value', 'Workspace Name', 'Include Archive'].includes(attr)) throw refuse(`programs cannot be filtered by ${attr} on the REST backend`)
    }
    const tagType = criteria.get('Tag Type')
    const tagValue = criteria.get('Tag Value')
    const workspace = criteria.get('Workspace Name')
    if (name === undefined && (tagType === undefined) !== (tagValue === undefined)) {
      throw refuse(PROGRAM_TAG_PAIR, tagType === undefined ? 'querystring:/tagType' : 'querystring:/tagValue')
    }
    const keep = (p: ReadMObject): boolean => {
      if (workspace !== undefined && !(p.attribs ?? []).some((a) => a.name === 'Workspace Name' && a.value === workspace)) return false
      if (name === undefined || (tagType === undefined && tagValue === undefined)) return true
      return (p.typeAttribs ?? []).some((t) => t.attrType === 'Tag' &&
        (tagType === undefined || t.attribs.some((a) => a.name === 'Type' && a.value === tagType)) &&
        (tagValue === undefined || t.attribs.some((a) => a.name === 'Value' && a.value === tagValue)))
    }
    const byId = (a: ReadMObject, b: ReadMObject): number => (a.id ?? 0) - (b.id ?? 0)
    const summary = (p: ReadMObject): ReadMObject => ({ ...p, detailsOmitted: true })
    const call = (path: string, params: Record<string, string>, parse: (env: RestEnvelope) => GetMObjectsPage): PreparedCall<GetMObjectsPage> => ({
      operation: 'getMObjects',
      objects: 0,
      idempotent: true,
      send: (hints) => client.send(readRequest(path, params), hints),
      parse
    })
    if (name !== undefined) {
      // One answer holds every program of that name: there is no next page.
      return call(PROGRAM_BY_NAME_PATH, { name, includeTags: 'true', includeCosts: 'true' }, (env) => ({ objects: rows(ok(env)).map(programFromAsset).filter(keep).sort(byId), hasMore: false, newStreamPosition: '' }))
    }
    if (tagType !== undefined && tagValue !== undefined) {
      return call(PROGRAM_BY_TAG_PATH, { tagType, tagValue, maxReturn: String(MAX_ASSET_RETURN) }, (env) => {
        const found = rows(ok(env))
        if (found.length >= MAX_ASSET_RETURN) throw new GatewayError('BACKEND_UNSUPPORTED', PROGRAM_TAG_TOO_MANY, { sent: true })
        return { objects: found.map(programFromAsset).filter(keep).sort(byId).map(summary), hasMore: false, newStreamPosition: '', servedAtMost: PROGRAM_DETAIL_PAGE }
      })
    }
    const offset = query.streamPosition === undefined ? 0 : Number(query.streamPosition)
    if (!Number.isSafeInteger(offset) || offset < 0) throw new GatewayError('VALIDATION_FAILED', 'the program list position is not one this gateway issued')
    const maxReturn = Math.min(query.pageSize ?? REST_READ_PAGE, PROGRAM_DETAIL_PAGE)
    return call(PROGRAMS_PATH, { maxReturn: String(maxReturn), offset: String(offset) }, (env) => {
      const found = rows(ok(env))
      // A full page may have a next one; the Asset API says nothing more.
      return { objects: found.map(programFromAsset).filter(keep).map(summary), hasMore: found.length === maxReturn, newStreamPosition: String(offset + found.length), servedAtMost: PROGRAM_DETAIL_PAGE }
    })
  }

  return {
    // One endpoint per type, and one deleteBy per call.
    deleteGroup: (o) => `${o.type}:${o.marketoGUID !== undefined ? 'idField' : 'dedupeFields'}`,

    getMObjects (query): PreparedCall<GetMObjectsPage> {
      if (query.type === 'Program') {
        if (query.id !== undefined) {
          return {
            operation: 'getProgram',
            objects: 0,
            idempotent: true,
            send: (hints) => client.send({ method: 'GET', path: `/rest/asset/v1/program/${query.id}.json` }, hints),
            parse: (env: RestEnvelope) => ({ objects: rows(ok(env)).map(programFromAsset), hasMore: false, newStreamPosition: '' })
          }
        }
        return programList(query)
      }
      if (query.type !== 'Opportunity' && query.type !== 'OpportunityPersonRole') throw refuse(`${query.type} cannot be read`)
      const paths = query.type === 'Opportunity' ? OPPORTUNITY_PATHS : ROLE_PATHS
      const lookup = lookupFilter(query)
      const fields = readFields(query)
      // REST pages as large as the caller's page: its cursor is then always a nextPageToken, which
      // resumes after the last record served even when records before it were deleted.
      const batchSize = query.pageSize ?? REST_READ_PAGE
      let req: RestRequest
      let chunk = 0
      let token = query.streamPosition
      let last = true
      let chunked = false
      if ('compound' in lookup) {
        const body: Record<string, unknown> = { filterType: 'dedupeFields', fields, input: lookup.compound, batchSize }
        if (query.streamPosition !== undefined) body.nextPageToken = query.streamPosition
        req = { method: 'POST', path: paths.get, query: { _method: 'GET' }, contentType: 'application/json', body: JSON.stringify(body) }
      } else {
        // More values than one call takes: the calls go one after the other, each paged by its
        // own nextPageToken, and the position names the call ("<call>:<token>").
        const chunks = Math.ceil(lookup.values.length / MAX_RECORDS_PER_REST_CALL)
        if (chunks > 1) {
          const at = /^(\d{1,4}):(.*)$/.exec(query.streamPosition ?? '0:')
          chunk = at === null ? NaN : Number(at[1])
          if (!Number.isSafeInteger(chunk) || chunk >= chunks) throw new GatewayError('VALIDATION_FAILED', 'the lookup position is not one this gateway issued')
          token = at?.[2] === '' ? undefined : at?.[2]
        }
        const values = lookup.values.slice(chunk * MAX_RECORDS_PER_REST_CALL, (chunk + 1) * MAX_RECORDS_PER_REST_CALL)
        const params: Record<string, string> = { filterType: lookup.filterType, filterValues: values.join(','), fields: fields.join(','), batchSize: String(batchSize) }
        if (token !== undefined) params.nextPageToken = token
        req = readRequest(paths.get, params)
        last = chunk + 1 >= chunks
        chunked = chunks > 1
      }
      return {
        operation: 'getMObjects',
        objects: 0,
        idempotent: true,
        send: (hints) => client.send(req, hints),
        parse: (env: RestEnvelope & { moreResult?: unknown, nextPageToken?: unknown }) => {
          const records = rows(ok(env))
          const objects = records.map((r) => query.type === 'Opportunity' ? opportunityFromRecord(r, keyField) : roleFromRecord(r, keyField))
          const next = typeof env.nextPageToken === 'string' ? env.nextPageToken : ''
          const more = env.moreResult === true && next !== ''
          if (!chunked) return { objects, hasMore: more, newStreamPosition: next }
          if (more) return { objects, hasMore: true, newStreamPosition: `${chunk}:${next}` }
          return { objects, hasMore: !last, newStreamPosition: last ? '' : `${chunk + 1}:` }
        }
      }
    },

    describe (objectName): PreparedCall<ObjectMetadata> {
      if (objectName !== 'Opportunity' && objectName !== 'OpportunityPersonRole') {
        throw new GatewayError('BACKEND_UNSUPPORTED', `the REST API has no describe for ${objectName}; use MARKETO_BACKEND=soap to describe it`)
      }
      const role = objectName === 'OpportunityPersonRole'
      return {
        operation: 'describeMObject',
        objects: 0,
        idempotent: true,
        send: (hints) => client.send({ method: 'GET', path: role ? ROLE_PATHS.describe : OPPORTUNITY_PATHS.describe }, hints),
        parse: (env: RestEnvelope) => {
          const d = rows(ok(env))[0]
          if (d === undefined || !Array.isArray(d.fields)) throw new GatewayError('UPSTREAM_PROTOCOL_ERROR', 'the REST describe answer has no fields', { sent: true })
          const fields = (d.fields as Array<Record<string, unknown>>).map((f): FieldMetadata => {
            const restName = String(f.name ?? '')
            const standard = role ? ROLE_DESCRIBE_NAMES.get(restName) : REST_TO_SOAP.get(restName)?.marketo
            const name = restName === 'externalOpportunityId' && !role ? keyField : standard ?? restName
            const length = Number(f.length)
            const meta: FieldMetadata = {
              name,
              dataType: String(f.dataType ?? 'string'),
              size: Number.isSafeInteger(length) && length > 0 ? length : null,
              readOnly: f.updateable === false,
              custom: standard === undefined && !RECORD_META.has(restName)
            }
            if (typeof f.displayName === 'string' && f.displayName !== '') meta.displayName = f.displayName
            return meta
          })
          return { name: objectName, fields }
        }
      }
    },

    deleteMObjects (objects: readonly DeleteTarget[]): PreparedCall<MObjStatus[]> {
      if (objects.length > MAX_RECORDS_PER_REST_CALL) throw refuse(`at most ${MAX_RECORDS_PER_REST_CALL} records per delete`)
      const types = new Set(objects.map((o) => o.type))
      if (types.size !== 1) throw refuse('one delete call takes one type: send opportunities and roles in separate calls')
      const type = objects[0]?.type
      if (type !== 'Opportunity' && type !== 'OpportunityPersonRole') throw refuse(`${type} cannot be deleted`)
      const role = type === 'OpportunityPersonRole'
      const byGuid = objects.every((o) => o.marketoGUID !== undefined)
      const input = objects.map((o, i) => {
        if (o.id !== undefined) throw refuse(SOAP_ONLY_ID, `/objects/${i}/id`)
        if (byGuid) return { marketoGUID: o.marketoGUID }
        if (role) {
          // Delete Opportunity Roles by dedupeFields: the compound key (opportunity-roles.md).
          if (o.roleKey === undefined) throw refuse('a delete call names all of its roles by marketoGUID or all by (opportunity externalKey, personId, role)', `/objects/${i}`)
          if (o.roleKey.opportunity.name !== keyField) throw refuse(`the external key of an opportunity is "${keyField}" (MARKETO_REST_EXTERNAL_KEY_FIELD)`, `/objects/${i}/opportunity/externalKey/name`)
          return { externalOpportunityId: o.roleKey.opportunity.value, leadId: o.roleKey.personId, role: o.roleKey.role }
        }
        if (o.externalKey === undefined) throw refuse('a delete call names all of its opportunities by marketoGUID or all by externalKey', `/objects/${i}`)
        if (o.externalKey.name !== keyField) throw refuse(`the external key of an opportunity is "${keyField}" (MARKETO_REST_EXTERNAL_KEY_FIELD)`, `/objects/${i}/externalKey/name`)
        return { externalOpportunityId: o.externalKey.value }
      })
      const body = JSON.stringify({ deleteBy: byGuid ? 'idField' : 'dedupeFields', input })
      return {
        operation: 'deleteMObjects',
        objects: objects.length,
        idempotent: false,
        send: (hints) => client.send({ method: 'POST', path: role ? ROLE_PATHS.delete : OPPORTUNITY_PATHS.delete, contentType: 'application/json', body }, hints),
        parse: (env: RestEnvelope) => {
          const records = rows(ok(env)) as Array<{ seq?: unknown, status?: unknown, marketoGUID?: unknown, reasons?: Array<{ code?: unknown, message?: unknown }> }>
          if (records.length !== objects.length) throw new GatewayError('UPSTREAM_PROTOCOL_ERROR', `Marketo's answer does not match the records sent (expected ${objects.length} results, got ${records.length})`, { sent: true })
          return objects.map((o, seq): MObjStatus => {
            const r = records.find((x) => x.seq === seq)
            if (r === undefined) throw new GatewayError('UPSTREAM_PROTOCOL_ERROR', `Marketo's answer has no result for seq ${seq}`, { sent: true })
            const status: MObjStatus = { id: null, status: 'FAILED' }
            if (o.externalKey !== undefined) status.externalKey = { ...o.externalKey }
            const guid = typeof r.marketoGUID === 'string' && r.marketoGUID !== '' ? r.marketoGUID : o.marketoGUID
            if (guid !== undefined) status.marketoGUID = guid
            const reason = r.reasons?.[0]
            if (r.status === 'deleted') status.status = 'DELETED'
            // Not found: nothing to delete, as SOAP's UNCHANGED.
            else if (r.status === 'skipped' && String(reason?.code) === '1013') status.status = 'UNCHANGED'
            else status.error = `${String(reason?.message ?? 'Marketo did not delete the record').slice(0, 500)} (${String(reason?.code ?? 'no code')})`
            return status
          })
        }
      }
    }
  }
}
