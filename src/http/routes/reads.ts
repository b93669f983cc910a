import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { commonProblems, problemResponse } from './responses.js'
import type { FastifyBaseLogger } from 'fastify'
import { GatewayError } from '../../domain/errors.js'
import type { DescribeCache } from '../../upstream/describe-cache.js'
import type { Criterion, GetMObjectsQuery, ReadMObject } from '../../domain/queries.js'
import type { Association } from '../../domain/model.js'
import { opportunityFromMObject, programFromMObject, roleFromMObject } from '../mapping/reads.js'
import { ref } from '../schemas/common.js'
import { OpportunityParams } from '../schemas/opportunities.js'
import { ProgramParams } from '../schemas/programs.js'
import {
  DescribeParams, ObjectDescription, Opportunity, OpportunityListQuery, OpportunityPage, OpportunityRole, OpportunityRolePage,
  Program, ProgramListQuery, ProgramPage, RoleListQuery, RoleParams, MAX_LOOKUP_VALUES, MAX_PAGE_SIZE,
  type MObjectType
} from '../schemas/reads.js'
import type { Reader } from '../../upstream/reader.js'
import { CursorCodec, filterHash, type CursorState } from './cursor.js'

export interface ReadRoutesOptions {
  requestTimeoutMs: number
  reader: Reader
  describeCache: DescribeCache
  /** Key that signs read cursors; random per instance by default (cursors then end with the process). */
  cursorKey?: Buffer
}

export const readErrorResponses = {
  400: problemResponse('Invalid query: unknown parameter, wrong type, or a cursor that was altered, is from other filters or from another gateway process'),
  ...commonProblems,
  502: problemResponse('Marketo failed or answered something that cannot be trusted'),
  504: problemResponse('Marketo did not answer before the deadline')
}
const notFound = (what: string) => ({ 404: problemResponse(`No ${what} with this id`) })

// ------------------------------------------------------------------ filters (cursors: ./cursor.ts)

/** A caller's date or date-time as Marketo compares them (W3C, UTC, whole seconds). */
export function criteriaInstant (value: string): string {
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) throw new GatewayError('VALIDATION_FAILED', `${value} is not a valid date`)
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+00:00')
}

function eq (attrName: string, value: string | number | undefined): Criterion[] {
  return value === undefined ? [] : [{ attrName, comparison: 'EQ', attrValue: String(value) }]
}

function range (attrName: string, gte: string | undefined, lt: string | undefined): Criterion[] {
  const out: Criterion[] = []
  if (gte !== undefined) out.push({ attrName, comparison: 'GE', attrValue: criteriaInstant(gte) })
  if (lt !== undefined) out.push({ attrName, comparison: 'LT', attrValue: criteriaInstant(lt) })
  return out
}

function upstreamValueError (err: unknown): never {
  if (err instanceof RangeError) {
    throw new GatewayError('UPSTREAM_PROTOCOL_ERROR', `Marketo returned a value the gateway cannot read (${err.message})`, { cause: err, sent: true })
  }
  throw err
}

/** Several values of one lookup parameter (externalKey.value or marketoGUID), deduplicated in input order. */
interface SeveralValues { by: 'externalKey' | 'marketoGUID', values: string[] }

function several (by: SeveralValues['by'], values: string[] | undefined): SeveralValues | undefined {
  const unique = [...new Set(values ?? [])]
  return unique.length > 1 ? { by, values: unique } : undefined
}

/** A lookup by several values answers everything at once, so it never issues a cursor and takes none. */
function noCursor (lookup: SeveralValues | undefined, cursor: string | undefined): void {
  if (lookup === undefined || cursor === undefined) return
  throw new GatewayError('VALIDATION_FAILED', `a lookup by several ${lookup.by} values has one page: it takes no cursor`, { errors: [{ path: 'querystring:/cursor', message: 'is not taken with several lookup values' }] })
}

/** What every step of a read needs: the request's one deadline and its log. */
interface Step { deadline: number, log: FastifyBaseLogger }

const readRoutes: FastifyPluginAsyncTypebox<ReadRoutesOptions> = async (app, opts) => {
  const { reader, describeCache } = opts
  const cursors = new CursorCodec(opts.cursorKey)

  /** One page of `limit` objects from the position in `state`, filling it from the next Marketo page when needed. */
  async function readPage (query: GetMObjectsQuery, limit: number, state: CursorState | undefined, until: number, log: FastifyBaseLogger): Promise<{ items: ReadMObject[], next?: CursorState }> {
    let sp = state?.sp
    let skip = state?.o ?? 0
    let after = state?.a
    const items: ReadMObject[] = []
    // limit ≤ 100 ≤ a Marketo page: two pages always suffice; the third guards against empty pages.
    for (let calls = 0; calls < 3; calls++) {
      const page = await reader.getMObjects(sp === undefined ? { ...query, pageSize: limit } : { ...query, pageSize: limit, streamPosition: sp }, until, log)
      if (page.servedAtMost !== undefined) limit = Math.min(limit, page.servedAtMost)
      let start = Math.min(skip, page.objects.length)
      if (after !== undefined) {
        // Resume after the last object returned, even if the page shifted since.
        const ids = page.objects.map((o) => o.id ?? 0)
        const at = ids.indexOf(after)
        if (at >= 0) start = at + 1
        else if (ids.every((id, i) => i === 0 || ids[i - 1] < id)) start = ids.findIndex((id) => id > (after as number))
        if (start < 0) start = page.objects.length
      }
      const taken = page.objects.slice(start, start + limit - items.length)
      items.push(...taken)
      const consumed = start + taken.length
      if (consumed < page.objects.length) {
        const next: CursorState = { o: consumed }
        if (sp !== undefined) next.sp = sp
        // Only integer ids (SOAP) can resume a shifted page; REST pages are fixed by their token.
        const last = items.at(-1)?.id
        if (typeof last === 'number') next.a = last
        return { items, next }
      }
      if (!page.hasMore || page.newStreamPosition === '') return { items }
      sp = page.newStreamPosition
      skip = 0
      after = undefined
      if (items.length >= limit) break
    }
    return { items, next: { sp, o: 0 } }
  }

  /** The position a list resumes from, checked before any Marketo call (describe included). */
  interface Paging { hash: string, state?: CursorState, limit: number }
  function paging (route: string, q: { cursor?: string, limit?: number }): Paging {
    const hash = filterHash(route, q)
    return { hash, state: q.cursor === undefined ? undefined : cursors.decode(q.cursor, hash), limit: q.limit ?? MAX_PAGE_SIZE }
  }

  // `req`: the request's one deadline (set when it arrived) and its log, for every step.
  async function list<T> (
    paged: Paging, query: GetMObjectsQuery, req: Step, map: (o: ReadMObject) => T | Promise<T>
  ): Promise<{ items: T[], nextCursor: string | null }> {
    const page = await readPage(query, paged.limit, paged.state, req.deadline, req.log)
    const items: T[] = []
    for (const o of page.items) items.push(await map(o))
    return { items, nextCursor: page.next === undefined ? null : cursors.encode(page.next, paged.hash) }
  }

  /**
   * A lookup by several keys or GUIDs: every value names at most one record, so the answer is one
   * page holding every match in the order of the values, read in calls of up to MAX_LOOKUP_VALUES
   * filterValues each; the values that match nothing are listed, not silently left out.
   */
  async function lookupAll (base: GetMObjectsQuery, lookup: SeveralValues, req: Step): Promise<{ objects: ReadMObject[], notFound: string[] }> {
    const found = new Map<string, ReadMObject>()
    for (let start = 0; start < lookup.values.length; start += MAX_LOOKUP_VALUES) {
      const values = lookup.values.slice(start, start + MAX_LOOKUP_VALUES)
      const query: GetMObjectsQuery = { ...base, pageSize: values.length }
      if (lookup.by === 'marketoGUID') query.marketoGUIDs = values
      else {
        query.externalKeys = values.map((value) => ({ name: base.externalKey?.name ?? '', value }))
        delete query.externalKey
      }
      let streamPosition: string | undefined
      // One page holds the chunk's matches (at most one per value); further pages are followed all the same.
      for (;;) {
        const page = await reader.getMObjects(streamPosition === undefined ? query : { ...query, streamPosition }, req.deadline, req.log)
        for (const o of page.objects) {
          const key = lookup.by === 'marketoGUID' ? o.marketoGUID : o.externalKey?.value
          if (key !== undefined && !found.has(key)) found.set(key, o)
        }
        if (!page.hasMore || page.newStreamPosition === '') break
        streamPosition = page.newStreamPosition
      }
    }
    return {
      objects: lookup.values.flatMap((v) => found.get(v) ?? []),
      notFound: lookup.values.filter((v) => !found.has(v))
    }
  }

  async function one (type: MObjectType, id: number, what: string, query: Partial<GetMObjectsQuery>, req: Step): Promise<ReadMObject> {
    const page = await reader.getMObjects({ type, id, ...query }, req.deadline, req.log)
    const found = page.objects.find((o) => o.id === id)
    if (found === undefined) throw new GatewayError('NOT_FOUND', `${what} ${id} does not exist`)
    return found
  }

  async function opportunityFields (req: Step) {
    return (await describeCache.get('Opportunity', req.deadline, req.log)).fields
  }

  app.get('/opportunities/:id', {
    schema: {
      tags: ['opportunities'],
      operationId: 'getOpportunity',
      summary: 'Read one opportunity',
      description: 'getMObjects by id. Custom fields are typed from describeMObject (cached).',
      params: OpportunityParams,
      response: { 200: { ...ref(Opportunity), description: 'The opportunity' }, ...notFound('opportunity'), ...readErrorResponses }
    }
  }, async (request) => {
    const [object, fields] = await Promise.all([one('Opportunity', request.params.id, 'opportunity', {}, request), opportunityFields(request)])
    try {
      return opportunityFromMObject(object, fields)
    } catch (err) {
      return upstreamValueError(err)
    }
  })

  app.get('/opportunities', {
    schema: {
      tags: ['opportunities'],
      operationId: 'listOpportunities',
      summary: 'List opportunities, or look one up by external key',
      description: 'getMObjects with criteria (Name, Stage, Type equal; Created At/Updated At ranges), a Company association, or an externalKey. ' +
        'Pages of `limit` objects; pass `nextCursor` back as `cursor` with the same filters.',
      querystring: OpportunityListQuery,
      response: { 200: { ...ref(OpportunityPage), description: 'One page of opportunities' }, ...readErrorResponses }
    }
  }, async (request) => {
    const q = request.query
    noCursor(several('externalKey', q['externalKey.value']) ?? several('marketoGUID', q.marketoGUID), q.cursor)
    const paged = paging('/opportunities', q)
    const keyName = q['externalKey.name']
    const keyValue = q['externalKey.value']
    if ((keyName === undefined) !== (keyValue === undefined)) {
      const missing = keyName === undefined ? 'externalKey.name' : 'externalKey.value'
      throw new GatewayError('VALIDATION_FAILED', `externalKey.name and externalKey.value go together: ${missing} is missing`, { errors: [{ path: `querystring:/${missing}`, message: 'is required with the other externalKey parameter' }] })
    }
    const externalKey = keyName !== undefined && keyValue !== undefined ? { name: keyName, value: keyValue[0] } : undefined
    const associations: Association[] = q.companyId === undefined ? [] : [{ mObjType: 'Company', id: q.companyId }]
    const query: GetMObjectsQuery = {
      type: 'Opportunity',
      criteria: [...eq('Name', q.name), ...eq('Stage', q.stage), ...eq('Type', q.type), ...range('Created At', q['createdAt.gte'], q['createdAt.lt']), ...range('Updated At', q['updatedAt.gte'], q['updatedAt.lt'])],
      associations
    }
    if (externalKey !== undefined) query.externalKey = externalKey
    const guids = [...new Set(q.marketoGUID ?? [])]
    if (guids.length === 1) query.marketoGUID = guids[0]
    const lookup = several('externalKey', keyValue) ?? several('marketoGUID', q.marketoGUID)
    const fields = await opportunityFields(request)
    // Every field the describe names: a REST read returns only the fields it asks for.
    query.fields = fields.map((f) => f.name)
    const map = (o: ReadMObject) => {
      try {
        return opportunityFromMObject(o, fields, lookup?.by === 'externalKey' && o.externalKey !== undefined ? o.externalKey : externalKey)
      } catch (err) {
        return upstreamValueError(err)
      }
    }
    if (lookup !== undefined) {
      if (lookup.by === 'externalKey' && guids.length > 0) query.marketoGUIDs = guids
      const found = await lookupAll(query, lookup, request)
      return { items: found.objects.map(map), nextCursor: null, notFound: found.notFound }
    }
    if (guids.length > 1) query.marketoGUIDs = guids
    return await list(paged, query, request, map)
  })

  app.get('/opportunities/roles', {
    schema: {
      tags: ['opportunities'],
      operationId: 'listOpportunityRoles',
      summary: 'List opportunity person roles, by opportunity, person or role',
      querystring: RoleListQuery,
      response: { 200: { ...ref(OpportunityRolePage), description: 'One page of roles' }, ...readErrorResponses }
    }
  }, async (request) => {
    const q = request.query
    noCursor(several('marketoGUID', q.marketoGUID), q.cursor)
    const paged = paging('/opportunities/roles', q)
    const associations: Association[] = []
    if (q.opportunityId !== undefined) associations.push({ mObjType: 'Opportunity', id: q.opportunityId })
    const keyName = q['opportunity.externalKey.name']
    const keyValue = q['opportunity.externalKey.value']
    if ((keyName === undefined) !== (keyValue === undefined)) {
      const missing = keyName === undefined ? 'opportunity.externalKey.name' : 'opportunity.externalKey.value'
      throw new GatewayError('VALIDATION_FAILED', `opportunity.externalKey.name and opportunity.externalKey.value go together: ${missing} is missing`, { errors: [{ path: `querystring:/${missing}`, message: 'is required with the other opportunity.externalKey parameter' }] })
    }
    if (keyName !== undefined && keyValue !== undefined) {
      for (const value of new Set(keyValue)) associations.push({ mObjType: 'Opportunity', externalKey: { name: keyName, value } })
    }
    if (q.personId !== undefined) associations.push({ mObjType: 'Lead', id: q.personId })
    const query: GetMObjectsQuery = { type: 'OpportunityPersonRole', criteria: eq('Role', q.role), associations }
    const lookup = several('marketoGUID', q.marketoGUID)
    if (lookup === undefined && q.marketoGUID !== undefined) query.marketoGUID = q.marketoGUID[0]
    query.fields = (await describeCache.get('OpportunityPersonRole', request.deadline, request.log)).fields.map((f) => f.name)
    const map = (o: ReadMObject) => {
      try {
        return roleFromMObject(o)
      } catch (err) {
        return upstreamValueError(err)
      }
    }
    if (lookup !== undefined) {
      const found = await lookupAll(query, lookup, request)
      return { items: found.objects.map(map), nextCursor: null, notFound: found.notFound }
    }
    return await list(paged, query, request, map)
  })

  app.get('/opportunities/roles/:id', {
    schema: {
      tags: ['opportunities'],
      operationId: 'getOpportunityRole',
      summary: 'Read one opportunity person role',
      params: RoleParams,
      response: { 200: { ...ref(OpportunityRole), description: 'The role' }, ...notFound('role'), ...readErrorResponses }
    }
  }, async (request) => {
    const object = await one('OpportunityPersonRole', request.params.id, 'role', {}, request)
    try {
      return roleFromMObject(object)
    } catch (err) {
      return upstreamValueError(err)
    }
  })

  app.get('/programs/:programId', {
    schema: {
      tags: ['programs'],
      operationId: 'getProgram',
      summary: 'Read one program with its costs, tags and channel',
      description: 'getMObjects by id with includeDetails, so period costs come back too.',
      params: ProgramParams,
      response: { 200: { ...ref(Program), description: 'The program' }, ...notFound('program'), ...readErrorResponses }
    }
  }, async (request) => {
    const object = await one('Program', request.params.programId, 'program', { includeDetails: true, criteria: [{ attrName: 'Include Archive', comparison: 'EQ', attrValue: 'true' }] }, request)
    try {
      return programFromMObject(object)
    } catch (err) {
      return upstreamValueError(err)
    }
  })

  app.get('/programs', {
    schema: {
      tags: ['programs'],
      operationId: 'listPrograms',
      summary: 'List programs by name, tag or workspace',
      description: 'getMObjects with criteria Name, Tag Type, Tag Value, Workspace Id, Workspace Name (equal) and Include Archive; costs included. ' +
        'REST backend: with `name`, one Get Program by Name (tags and costs included), which tagType, tagValue and workspaceName narrow; without it, with tagType and tagValue (both, or 400), Get Programs by Tag ' +
        '(a tag with 200 programs or more answers 501: that endpoint answers in random order, so the gateway pages through one whole answer itself), and with neither, Get Programs (browse, by offset); ' +
        'programs from those two are then read one by one with Get Program by Id, which has their costs (one more Marketo call per program listed, so these pages hold at most 20 programs). workspaceName narrows every answer, workspaceId answers 400, ' +
        'and archived programs are not told apart (the Asset API has no archive flag).',
      querystring: ProgramListQuery,
      response: { 200: { ...ref(ProgramPage), description: 'One page of programs' }, ...readErrorResponses }
    }
  }, async (request) => {
    const q = request.query
    const paged = paging('/programs', q)
    const criteria = [
      ...eq('Name', q.name), ...eq('Tag Type', q.tagType), ...eq('Tag Value', q.tagValue),
      ...eq('Workspace Id', q.workspaceId), ...eq('Workspace Name', q.workspaceName),
      ...(q.includeArchived === true ? eq('Include Archive', 'true') : [])
    ]
    const page = await readPage({ type: 'Program', criteria, includeDetails: true }, paged.limit, paged.state, request.deadline, request.log)
    // A program the list answered without its costs is read by id (several at once: the call gate paces them).
    const whole = await Promise.all(page.items.map(async (o) => {
      if (o.detailsOmitted !== true || o.id === null) return o
      try {
        return await one('Program', o.id, 'program', { includeDetails: true }, request)
      } catch (err) {
        // Deleted between the list and the read: no longer a program to list.
        if (err instanceof GatewayError && err.code === 'NOT_FOUND') return undefined
        throw err
      }
    }))
    const items = whole.filter((o): o is ReadMObject => o !== undefined).map((o) => {
      try {
        return programFromMObject(o)
      } catch (err) {
        return upstreamValueError(err)
      }
    })
    return { items, nextCursor: page.next === undefined ? null : cursors.encode(page.next, paged.hash) }
  })

  app.get('/mobjects/:type/describe', {
    schema: {
      tags: ['mobjects'],
      operationId: 'describeMObject',
      summary: 'The fields of an MObject type (describeMObject, cached)',
      description: 'Name, data type, size, read-only and custom flag of every field. Answers are cached for DESCRIBE_CACHE_TTL_MS.',
      params: DescribeParams,
      response: { 200: { ...ref(ObjectDescription), description: 'The field list' }, ...readErrorResponses, 501: problemResponse('The configured backend cannot describe this type (the REST API has no Program describe)') }
    }
  }, async (request) => {
    const meta = await describeCache.get(request.params.type, request.deadline, request.log)
    return { type: request.params.type, fields: meta.fields, fetchedAt: meta.fetchedAt }
  })
}

export default readRoutes
