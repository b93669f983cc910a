/* eslint-disable @typescript-eslint/no-redeclare -- TypeBox idiom: a schema and its Static<> type share one name */
import { Type, type Static } from '@sinclair/typebox'
import {
  ExternalKey, FieldName, Id, IdParam, InstantString, MarketoGuid, MAX_BATCH, NAME_MAX_LENGTH, ObjectResult, SafeString, StringEnum, SyncResult, ref
} from './common.js'

// The read side of the REST contract: the same field names and types as the write bodies.

export const MAX_PAGE_SIZE = 100
export const MOBJECT_TYPES = ['Opportunity', 'OpportunityPersonRole', 'Program'] as const
export type MObjectType = typeof MOBJECT_TYPES[number]

const Timestamp = (description: string) => Type.String({ format: 'date-time', description })
const Stamps = {
  createdAt: Type.Optional(Timestamp('When Marketo created the object (ISO 8601, UTC)')),
  updatedAt: Type.Optional(Timestamp('When Marketo last changed the object (ISO 8601, UTC)'))
}
const DateOut = () => Type.String({ format: 'date', examples: ['2014-03-31'] })
const CustomValue = Type.Union([Type.String(), Type.Number(), Type.Boolean()])

const NullableId = (description: string) => Type.Union([Id(), Type.Null()], { description })
const ReadGuid = () => Type.Optional(MarketoGuid({ description: 'REST backend only (MARKETO_BACKEND=rest): the record\'s Marketo GUID' }))

export const Opportunity = Type.Object({
  id: NullableId('Marketo opportunity id; null on the REST backend, which names opportunities by marketoGUID'),
  marketoGUID: ReadGuid(),
  externalKey: Type.Optional(ref(ExternalKey, { description: 'The key the opportunity was looked up by' })),
  name: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  amount: Type.Optional(Type.Number()),
  expectedRevenue: Type.Optional(Type.Number()),
  probability: Type.Optional(Type.Number({ description: 'Percent, 0 to 100' })),
  quantity: Type.Optional(Type.Number()),
  closeDate: Type.Optional(DateOut()),
  externalCreatedDate: Type.Optional(DateOut()),
  lastActivityDate: Type.Optional(DateOut()),
  fiscal: Type.Optional(Type.String()),
  fiscalQuarter: Type.Optional(Type.Integer()),
  fiscalYear: Type.Optional(Type.Integer()),
  forecastCategoryName: Type.Optional(Type.String()),
  leadSource: Type.Optional(Type.String()),
  nextStep: Type.Optional(Type.String()),
  stage: Type.Optional(Type.String()),
  type: Type.Optional(Type.String()),
  isClosed: Type.Optional(Type.Boolean()),
  isWon: Type.Optional(Type.Boolean()),
  customFields: Type.Record(Type.String(), CustomValue, {
    description: 'Instance-specific fields by Marketo API name, typed by describeMObject (integer, number, boolean, YYYY-MM-DD date or string); empty when none is set'
  }),
  company: Type.Optional(Type.Union([
    Type.Object({ id: Id() }, { additionalProperties: false }),
    Type.Object({ externalKey: ref(ExternalKey) }, { additionalProperties: false })
  ], { description: 'The company: by id on the SOAP backend; on the REST backend by its externalCompanyId, as externalKey {"name":"externalCompanyId"}' })),
  ...Stamps
}, {
  $id: 'Opportunity',
  additionalProperties: false,
  description: 'An opportunity as read from Marketo; fields Marketo has no value for are left out',
  examples: [{
    id: 64,
    name: 'Q1 2014',
    amount: 2000,
    probability: 80,
    closeDate: '2014-03-31',
    stage: 'Negotiation',
    customFields: { opportunityId: 'Opportunity_3', cAccountFSID: 'C123' },
    company: { id: 1 },
    createdAt: '2013-07-30T12:00:00.000Z',
    updatedAt: '2013-07-30T12:00:00.000Z'
  }]
})
export type Opportunity = Static<typeof Opportunity>

export const OpportunityRole = Type.Object({
  id: NullableId('Marketo role id; null on the REST backend, which names roles by marketoGUID'),
  marketoGUID: ReadGuid(),
  opportunityId: Type.Optional(Id()),
  opportunity: Type.Optional(Type.Object({ externalKey: ref(ExternalKey) }, { additionalProperties: false, description: 'The opportunity by external key (the REST backend names it so)' })),
  personId: Type.Optional(Id()),
  role: Type.Optional(Type.String()),
  isPrimary: Type.Optional(Type.Boolean()),
  externalCreatedDate: Type.Optional(DateOut()),
  ...Stamps
}, {
  $id: 'OpportunityRole',
  additionalProperties: false,
  examples: [{ id: 10, opportunityId: 4, personId: 19, role: 'Decision Maker', isPrimary: true, createdAt: '2013-07-01T12:00:00.000Z', updatedAt: '2013-07-01T12:00:00.000Z' }]
})
export type OpportunityRole = Static<typeof OpportunityRole>

export const Program = Type.Object({
  id: Id({ description: 'Marketo program id' }),
  name: Type.Optional(Type.String()),
  type: Type.Optional(Type.String({ description: 'Program type, e.g. Event' })),
  workspaceId: Type.Optional(Type.Integer()),
  workspaceName: Type.Optional(Type.String()),
  treePath: Type.Optional(Type.String({ description: 'SOAP backend: the full path of the program in the Marketing Activities tree. The REST API has no tree path, so REST results leave it out and give folderName' })),
  folderName: Type.Optional(Type.String({ description: 'REST backend only: the name of the folder the program is in (the Asset API\'s folder.folderName), not a path' })),
  isArchived: Type.Optional(Type.Boolean()),
  channel: Type.Optional(Type.String({ description: 'Value of the Channel tag, when the program has one' })),
  tags: Type.Array(Type.Object({ type: Type.String(), value: Type.String() }, { additionalProperties: false }), {
    description: 'Tags, the channel included, as the tags route takes them'
  }),
  costs: Type.Array(Type.Object({
    month: Type.String({ description: 'YYYY-MM' }),
    amount: Type.Number(),
    id: Type.Optional(Type.Integer({ description: 'Marketo cost id' })),
    note: Type.Optional(Type.String())
  }, { additionalProperties: false }), { description: 'Period costs, as the costs route takes them' }),
  ...Stamps
}, {
  $id: 'Program',
  additionalProperties: false,
  examples: [{
    id: 1970,
    name: 'Summer Webinar Series',
    type: 'Event',
    workspaceId: 1,
    workspaceName: 'Default',
    treePath: '/Marketing Activities/Default/Webinars/Summer Webinar Series',
    isArchived: false,
    channel: 'Webinar',
    tags: [{ type: 'Channel', value: 'Webinar' }],
    costs: [{ id: 152, month: '2013-05', amount: 1200, note: 'Kick-off' }, { id: 153, month: '2013-06', amount: 1500 }],
    createdAt: '2013-05-20T09:30:00.000Z',
    updatedAt: '2013-07-01T16:00:00.000Z'
  }]
})
export type Program = Static<typeof Program>

const NextCursor = Type.Union([Type.String(), Type.Null()], {
  description: 'Pass as `cursor` (with the same filters, unaltered) for the next page; null on the last page'
})

const NotFound = Type.Array(Type.String(), {
  description: 'Only for a lookup by several externalKey.value or marketoGUID values: the values (deduplicated, in input order) that match no record'
})

const page = <T extends Parameters<typeof ref>[0]>(item: T, id: string) => Type.Object({
  items: Type.Array(ref(item)),
  nextCursor: NextCursor
}, { $id: id, additionalProperties: false })

const lookupPage = <T extends Parameters<typeof ref>[0]>(item: T, id: string) => Type.Object({
  items: Type.Array(ref(item)),
  nextCursor: NextCursor,
  notFound: Type.Optional(NotFound)
}, { $id: id, additionalProperties: false })

export const OpportunityPage = lookupPage(Opportunity, 'OpportunityPage')
export const OpportunityRolePage = lookupPage(OpportunityRole, 'OpportunityRolePage')
export const ProgramPage = page(Program, 'ProgramPage')

export const FieldDescription = Type.Object({
  name: Type.String({ description: 'Marketo API name, as used in customFields' }),
  displayName: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  dataType: Type.String({ description: 'Marketo data type: string, text, integer, float, currency, percent, boolean, date, datetime...' }),
  size: Type.Union([Type.Integer(), Type.Null()], { description: 'Maximum length or digits, null when Marketo gives none' }),
  readOnly: Type.Boolean(),
  custom: Type.Boolean()
}, { additionalProperties: false })

export const ObjectDescription = Type.Object({
  type: StringEnum(MOBJECT_TYPES),
  fields: Type.Array(FieldDescription),
  fetchedAt: Timestamp('When the gateway fetched this description from Marketo (it is cached, see DESCRIBE_CACHE_TTL_MS)')
}, {
  $id: 'ObjectDescription',
  additionalProperties: false,
  examples: [{
    type: 'Opportunity',
    fields: [{ name: 'DealScore', displayName: 'Deal Score', description: 'Internal deal score (custom)', dataType: 'integer', size: 10, readOnly: false, custom: true }],
    fetchedAt: '2024-01-01T00:00:00.000Z'
  }]
})
export type ObjectDescription = Static<typeof ObjectDescription>

export const DeleteResult = Type.Object({
  requestId: Type.String(),
  operation: StringEnum(['delete'] as const),
  summary: SyncResult.properties.summary,
  results: Type.Array(ref(ObjectResult))
}, {
  $id: 'DeleteResult',
  additionalProperties: false,
  description: 'Statuses are deleted, unchanged (nothing with that id) or failed; HTTP 207 when one failed',
  examples: [{
    requestId: 'req-1',
    operation: 'delete',
    summary: { total: 2, created: 0, updated: 0, unchanged: 1, skipped: 0, failed: 0, deleted: 1, unknown: 0, notApplied: 0 },
    results: [{ index: 0, id: 4, status: 'deleted' }, { index: 1, id: 999, status: 'unchanged' }]
  }]
})
export type DeleteResult = Static<typeof DeleteResult>

/** Response schemas the routes `$ref`: register them with `app.addSchema` after `sharedSchemas`. */
export const readSchemas = [Opportunity, OpportunityRole, Program, OpportunityPage, OpportunityRolePage, ProgramPage, ObjectDescription, DeleteResult] as const

// ------------------------------------------------------------------ requests

/** The most filterValues one REST lookup takes (opportunities.md: 300 records a call). */
export const MAX_LOOKUP_VALUES = 300
/** The most keys or GUIDs one lookup request names: the gateway reads them in calls of MAX_LOOKUP_VALUES. */
export const MAX_LOOKUP_KEYS = MAX_BATCH
const SEVERAL = `repeat the parameter for several (up to ${MAX_LOOKUP_KEYS}, read in calls of ${MAX_LOOKUP_VALUES}, as far as the URL fits the gateway's 16 KB request-header limit, about 300 GUIDs; the answer then holds every match in the order of the values, no further page and no cursor, and notFound lists the values that match nothing)`
const GuidList = (description: string) => Type.Array(MarketoGuid(), { minItems: 1, maxItems: MAX_LOOKUP_KEYS, description: `${description}; ${SEVERAL}` })
const Limit = Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: MAX_PAGE_SIZE, description: `Objects per page, 1 to ${MAX_PAGE_SIZE}` })
const Cursor = Type.String({ minLength: 1, maxLength: 4_096, pattern: '^[A-Za-z0-9_-]+$', description: 'nextCursor of the previous page, unaltered; only valid with the same filters, on the gateway process that issued it (signed with a per-process key)' })
const Text = (description: string) => SafeString({ minLength: 1, maxLength: NAME_MAX_LENGTH, description })
const Instant = (description: string) => InstantString({
  description: `${description}: a real date (YYYY-MM-DD, midnight UTC) or an ISO 8601 date-time with an offset (hours 00-23, no 24:00)`
})

export const OpportunityListQuery = Type.Object({
  'externalKey.name': Type.Optional(FieldName({ description: 'Look up by external key: the field name (with externalKey.value)' })),
  'externalKey.value': Type.Optional(Type.Array(SafeString({ minLength: 1, maxLength: NAME_MAX_LENGTH }), {
    minItems: 1,
    maxItems: MAX_LOOKUP_KEYS,
    description: `Look up by external key: the value (with externalKey.name); REST backend: ${SEVERAL}`
  })),
  marketoGUID: Type.Optional(GuidList('REST backend only: look up by marketoGUID')),
  name: Type.Optional(Text('Name equals')),
  stage: Type.Optional(Text('Stage equals')),
  type: Type.Optional(Text('Type equals')),
  companyId: Type.Optional(Id({ description: 'Only opportunities of this Marketo company' })),
  'createdAt.gte': Type.Optional(Instant('Created at or after')),
  'createdAt.lt': Type.Optional(Instant('Created before')),
  'updatedAt.gte': Type.Optional(Instant('Updated at or after')),
  'updatedAt.lt': Type.Optional(Instant('Updated before')),
  limit: Type.Optional(Limit),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type OpportunityListQuery = Static<typeof OpportunityListQuery>

export const RoleListQuery = Type.Object({
  opportunityId: Type.Optional(Id({ description: 'Roles of this opportunity (SOAP backend: REST has no integer opportunity ids)' })),
  'opportunity.externalKey.name': Type.Optional(FieldName({ description: 'Roles of the opportunity with this external key: the field name (with opportunity.externalKey.value; on REST it must be MARKETO_REST_EXTERNAL_KEY_FIELD)' })),
  'opportunity.externalKey.value': Type.Optional(Type.Array(SafeString({ minLength: 1, maxLength: NAME_MAX_LENGTH }), {
    minItems: 1,
    maxItems: MAX_LOOKUP_KEYS,
    description: `Roles of the opportunity with this external key: the value (with opportunity.externalKey.name). REST backend: repeat it for the roles of several opportunities (up to ${MAX_LOOKUP_KEYS}, as far as the URL fits the 16 KB request-header limit), read in calls of ${MAX_LOOKUP_VALUES} keys one after the other and paged as usual: the roles of the first ${MAX_LOOKUP_VALUES} keys come first, each call's in Marketo's order`
  })),
  personId: Type.Optional(Id({ description: 'Roles of this person (lead)' })),
  marketoGUID: Type.Optional(GuidList('REST backend only: the role with this marketoGUID')),
  role: Type.Optional(Text('Role equals')),
  limit: Type.Optional(Limit),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type RoleListQuery = Static<typeof RoleListQuery>

export const ProgramListQuery = Type.Object({
  name: Type.Optional(Text('Name equals')),
  tagType: Type.Optional(Text('Has a tag of this type, e.g. Channel (REST backend: without name, only with tagValue)')),
  tagValue: Type.Optional(Text('Has a tag with this value, e.g. Webinar (REST backend: without name, only with tagType)')),
  workspaceId: Type.Optional(Id({ description: 'Workspace id equals' })),
  workspaceName: Type.Optional(Text('Workspace name equals')),
  includeArchived: Type.Optional(Type.Boolean({ default: false, description: 'Include archived programs' })),
  limit: Type.Optional(Limit),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type ProgramListQuery = Static<typeof ProgramListQuery>

export const RoleParams = Type.Object({
  id: IdParam({ description: 'Marketo opportunity role id (xs:int)' })
}, { additionalProperties: false })

export const DescribeParams = Type.Object({
  type: StringEnum(MOBJECT_TYPES, { description: 'MObject type' })
}, { additionalProperties: false })

const DeleteType = () => StringEnum(['Opportunity', 'OpportunityPersonRole'] as const)
export const DeleteBody = Type.Object({
  objects: Type.Array(Type.Union([
    Type.Object({ type: DeleteType(), id: Id() }, { additionalProperties: false }),
    Type.Object({ type: DeleteType(), marketoGUID: MarketoGuid() }, { additionalProperties: false }),
    Type.Object({ type: StringEnum(['Opportunity'] as const), externalKey: ref(ExternalKey) }, { additionalProperties: false }),
    Type.Object({
      type: StringEnum(['OpportunityPersonRole'] as const),
      opportunity: Type.Object({ externalKey: ref(ExternalKey) }, { additionalProperties: false }),
      personId: Id(),
      role: SafeString({ minLength: 1, maxLength: NAME_MAX_LENGTH })
    }, { additionalProperties: false, description: 'REST backend: a role by its dedupe key (its opportunity\'s external key, person and role)' })
  ], { description: 'By id (SOAP backend), or by marketoGUID, an opportunity\'s externalKey or a role\'s (opportunity, personId, role) key (REST backend)' }), { minItems: 1, maxItems: MAX_BATCH, description: `1 to ${MAX_BATCH} objects, sent in calls of at most 100 (300 on the REST backend)` })
}, {
  $id: 'DeleteBody',
  additionalProperties: false,
  examples: [{ objects: [{ type: 'Opportunity', id: 4 }, { type: 'OpportunityPersonRole', id: 10 }] }]
})
export type DeleteBody = Static<typeof DeleteBody>
