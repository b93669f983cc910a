/* eslint-disable @typescript-eslint/no-redeclare -- TypeBox idiom: a schema and its Static<> type share one name */
import { Type, type Static, type StringOptions, type NumberOptions, type SchemaOptions, type TSchema, type TUnsafe } from '@sinclair/typebox'
import { fullFormats } from 'ajv-formats/dist/formats.js'

export const INT32_MAX = 2_147_483_647
/** Objects per request on the batch routes; the route splits them into SOAP calls of at most 100. */
export const MAX_BATCH = 1_000
/** Cost or tag entries per program call: they are typeAttribs of one Program MObject. */
export const MAX_PROGRAM_ENTRIES = 100
/** Custom fields per opportunity, attributes per generic MObject. */
export const MAX_FIELDS = 100
export const NAME_MAX_LENGTH = 255
export const TEXT_MAX_LENGTH = 2_000
/** |amount| bound: well inside Number.MAX_SAFE_INTEGER, so every accepted integer is exact. */
export const MONEY_LIMIT = 1e15

/**
 * XML 1.0 allows tab, LF and CR but no other C0 control, no U+FFFE/U+FFFF and no lone surrogate
 * (ajv compiles patterns with the `u` flag, so the surrogate range only matches unpaired halves).
 * `<![CDATA[` is refused because strong-soap silently rewrites values containing it.
 */
export const SAFE_STRING_PATTERN = '^(?:(?!<!\\[CDATA\\[)[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\uD800-\\uDFFF\\uFFFE\\uFFFF])*$'
/** Marketo API field names; also keeps strong-soap's `$xml`, `$attributes`, `$value` and `__proto__` out. */
export const FIELD_NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_]{0,79}$'

export type SafeStringOptions = Omit<StringOptions, 'pattern' | 'format' | 'maxLength'> & { maxLength: number }

/** Every caller string goes through this builder; maxLength counts code points (ajv's default). */
export function SafeString (opts: SafeStringOptions) {
  return Type.String({ ...opts, pattern: SAFE_STRING_PATTERN })
}

/**
 * How a path or query integer must be written: decimal digits without a leading zero (and an
 * optional minus, so that `-1` is refused by the range, not the spelling). The validator
 * (src/http/plugins/validation.ts) checks every integer-typed param and query parameter against it
 * before ajv converts the text: Number() would read `0x40`, `1e1`, ` 64 `, `+1`, `01`, `1.0` as ids.
 */
export const INTEGER_TEXT = /^(?:0|-?[1-9][0-9]*)$/

/**
 * Marketo ids are xs:int. Also used for path and query params, which arrive as text: only
 * canonical decimal (INTEGER_TEXT) is converted, so one id has one spelling.
 */
export function Id (opts: NumberOptions = {}) {
  return Type.Integer({ minimum: 1, maximum: INT32_MAX, ...opts })
}

export function IdParam (opts: NumberOptions = {}) {
  return Id({ description: 'Marketo id (xs:int, 1..2147483647)', ...opts })
}

/** A real calendar date: ajv-formats' full `date` checks days per month and leap years. */
export function DateString (opts: Omit<StringOptions, 'pattern' | 'format'> = {}) {
  return Type.String({ format: 'date', pattern: '^\\d{4}-\\d{2}-\\d{2}$', examples: ['2014-03-31'], ...opts })
}

/** The write side's date check (ajv-formats' full `date`, as DateString uses it): days per month, leap years. */
const isRealDate = (fullFormats.date as { validate: (s: string) => boolean }).validate

/**
 * A date, or a date-time with an offset (seconds optional): hours 00-23, minutes and seconds 00-59,
 * offsets up to ±23:59. No 24:00 or leap second: Date.parse would roll them into the next day.
 */
export const INSTANT_PATTERN = '^\\d{4}-\\d{2}-\\d{2}(T([01]\\d|2[0-3]):[0-5]\\d(:[0-5]\\d(\\.\\d{1,9})?)?(Z|[+-]([01]\\d|2[0-3]):[0-5]\\d))?$'
const INSTANT = new RegExp(INSTANT_PATTERN)

/**
 * The ajv format of InstantString, registered by the validator (src/http/plugins/validation.ts): the
 * pattern, and a date part that is a real calendar date by the same check as DateString.
 */
export const INSTANT_FORMAT = {
  name: 'date-or-date-time',
  validate: (value: string): boolean => INSTANT.test(value) && isRealDate(value.slice(0, 10))
} as const

/** A read filter's instant: YYYY-MM-DD (midnight UTC) or an ISO 8601 date-time with an offset, all real. */
export function InstantString (opts: Omit<StringOptions, 'pattern' | 'format' | 'maxLength'> = {}) {
  return Type.String({ format: INSTANT_FORMAT.name, pattern: INSTANT_PATTERN, maxLength: 40, examples: ['2013-07-02', '2013-07-02T14:00:00+02:00'], ...opts })
}

export function MonthString (opts: Omit<StringOptions, 'pattern' | 'format'> = {}) {
  return Type.String({ pattern: '^\\d{4}-(0[1-9]|1[0-2])$', examples: ['2013-06'], ...opts })
}

/** A finite amount with |x| ≤ 1e15 (1e309 parses to Infinity and is refused here too). */
export function Money (opts: NumberOptions = {}) {
  return Type.Number({ minimum: -MONEY_LIMIT, maximum: MONEY_LIMIT, ...opts })
}

export function FieldName (opts: Omit<StringOptions, 'pattern'> = {}) {
  return Type.String({ pattern: FIELD_NAME_PATTERN, ...opts })
}

export function FieldValue (opts: SchemaOptions = {}) {
  return Type.Union([SafeString({ maxLength: TEXT_MAX_LENGTH }), Money(), Type.Boolean()], {
    description: `A string (at most ${TEXT_MAX_LENGTH} characters), a number (|x| ≤ 1e15) or a boolean (sent as 1/0)`,
    ...opts
  })
}

/** `{ name: value }` pairs with Marketo field names as keys, in the caller's order. */
export function FieldMap (opts: { reserved?: readonly string[], description?: string } = {}) {
  const propertyNames: Record<string, unknown> = { pattern: FIELD_NAME_PATTERN }
  if (opts.reserved !== undefined) propertyNames.not = { enum: [...opts.reserved] }
  return Type.Record(Type.String(), FieldValue(), {
    propertyNames,
    minProperties: 1,
    maxProperties: MAX_FIELDS,
    ...(opts.description !== undefined ? { description: opts.description } : {})
  })
}

/** A string enum rendered as `enum` (not anyOf of consts) in OpenAPI. */
export function StringEnum<const T extends readonly string[]> (values: T, opts: SchemaOptions = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...opts })
}

/**
 * `$ref` to a shared schema registered with `addSchema` (see `sharedSchemas`), typed as the target.
 * Inlining a schema that has an `$id` twice in one route schema makes ajv fail with
 * "reference resolves to more than one schema", hence references.
 */
export function ref<T extends TSchema> (schema: T, opts: SchemaOptions = {}): TUnsafe<Static<T>> {
  if (schema.$id === undefined) throw new TypeError('ref() needs a schema with an $id')
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id, opts))
}

export const REST_OPERATIONS = ['insert', 'update', 'upsert'] as const
export type RestOperation = typeof REST_OPERATIONS[number]

export function RestOperation (defaultValue: RestOperation) {
  return StringEnum(REST_OPERATIONS, {
    default: defaultValue,
    description: `insert: create, skip existing; update: update existing, skip new; upsert: both. Default ${defaultValue}`
  })
}

export const ExternalKey = Type.Object({
  name: FieldName({ description: 'Name of the Marketo field used as the external key' }),
  value: SafeString({ minLength: 1, maxLength: NAME_MAX_LENGTH })
}, {
  $id: 'ExternalKey',
  additionalProperties: false,
  description: 'An object addressed by a custom field of its own instead of its Marketo id',
  examples: [{ name: 'opportunityId', value: 'OPP-2014-Q1' }]
})
export type ExternalKey = Static<typeof ExternalKey>

/** A Marketo REST record id (a UUID); only the REST backend (MARKETO_BACKEND=rest) knows them. */
export function MarketoGuid (opts: { description?: string } = {}) {
  return Type.String({ format: 'uuid', maxLength: 36, examples: ['dff23271-f996-47d7-984f-f2676861b5fa'], ...opts })
}

export const ObjectStatus = ['created', 'updated', 'unchanged', 'skipped', 'failed', 'deleted', 'unknown', 'not_applied'] as const
export type ObjectStatus = typeof ObjectStatus[number]

export const ObjectResult = Type.Object({
  index: Type.Integer({ minimum: 0, description: 'Position of the object in the request' }),
  id: Type.Union([Type.Integer(), Type.Null()], { description: 'Marketo id, null when Marketo returned none' }),
  externalKey: Type.Optional(ref(ExternalKey)),
  marketoGUID: Type.Optional(Type.String({ maxLength: 64, description: 'REST backend only (MARKETO_BACKEND=rest): the record\'s Marketo GUID; `id` is then null for opportunities and roles' })),
  status: StringEnum(ObjectStatus, {
    description: 'unknown: the call may or may not have been applied upstream; not_applied: never sent'
  }),
  error: Type.Optional(Type.Object({
    code: Type.String(),
    message: Type.String()
  }, { additionalProperties: false }))
}, {
  $id: 'ObjectResult',
  additionalProperties: false,
  examples: [{ index: 0, id: 1970, status: 'updated' }]
})
export type ObjectResult = Static<typeof ObjectResult>

const Count = Type.Integer({ minimum: 0 })

/** Objects per status: a request's summary and a bulk job's counts. */
export const STATUS_COUNTS = {
  created: Count,
  updated: Count,
  unchanged: Count,
  skipped: Count,
  failed: Count,
  deleted: Count,
  unknown: Count,
  notApplied: Count
}

export const SyncResult = Type.Object({
  requestId: Type.String(),
  operation: StringEnum(REST_OPERATIONS),
  summary: Type.Object({ total: Count, ...STATUS_COUNTS }, { additionalProperties: false }),
  results: Type.Array(ref(ObjectResult))
}, {
  $id: 'SyncResult',
  additionalProperties: false,
  description: 'HTTP 200 when no object failed, 207 when at least one did',
  examples: [{
    requestId: 'req-1',
    operation: 'update',
    summary: { total: 1, created: 0, updated: 1, unchanged: 0, skipped: 0, failed: 0, deleted: 0, unknown: 0, notApplied: 0 },
    results: [{ index: 0, id: 1970, status: 'updated' }]
  }]
})
export type SyncResult = Static<typeof SyncResult>

export const ProblemDetails = Type.Object({
  type: Type.String({ description: 'URI reference identifying the problem type' }),
  title: Type.String(),
  status: Type.Integer({ minimum: 400, maximum: 599 }),
  detail: Type.String(),
  code: Type.String({ description: 'Stable machine-readable error code' }),
  requestId: Type.String(),
  errors: Type.Optional(Type.Array(Type.Object({
    path: Type.String({ description: 'JSON Pointer into the request' }),
    message: Type.String()
  }, { additionalProperties: false }))),
  upstreamCode: Type.Optional(Type.Integer({ description: 'Marketo error code, e.g. 20014' })),
  retryAfterMs: Type.Optional(Type.Integer({ minimum: 0, description: 'When to retry, in milliseconds (the Retry-After header carries it in seconds)' })),
  summary: Type.Optional(SyncResult.properties.summary),
  results: Type.Optional(Type.Array(ref(ObjectResult), { description: 'When objects were involved: what happened to each (unknown, not_applied, or a Marketo status for calls that succeeded)' }))
}, {
  $id: 'ProblemDetails',
  additionalProperties: false,
  description: 'RFC 9457 problem details, served as application/problem+json',
  examples: [{
    type: 'about:blank',
    title: 'Bad Request',
    status: 400,
    detail: 'body/opportunities/0/name must NOT have more than 255 characters',
    code: 'VALIDATION_FAILED',
    requestId: 'req-1',
    errors: [{ path: '/opportunities/0/name', message: 'must NOT have more than 255 characters' }]
  }]
})
export type ProblemDetails = Static<typeof ProblemDetails>

/** Answer to `?dryRun=true` on the write routes. */
export const DryRunResult = Type.Object({
  requestId: Type.String(),
  dryRun: Type.Literal(true),
  operation: Type.String({ description: 'The syncMObjects operation: INSERT, UPDATE or UPSERT' }),
  plan: Type.Array(Type.Object({
    index: Type.Integer({ minimum: 0 }),
    type: Type.String(),
    id: Type.Optional(Type.Integer()),
    externalKey: Type.Optional(ref(ExternalKey)),
    call: Type.Integer({ minimum: 0, description: 'Which of `calls` carries this object' })
  }, { additionalProperties: false })),
  calls: Type.Array(Type.Object({
    objects: Type.Integer({ minimum: 1 }),
    envelope: Type.String({ description: 'The SOAP 1.1 envelope, with mktowsUserId and requestSignature redacted; with MARKETO_BACKEND=rest the REST calls instead, each as `POST path`, content type and body (no token)' })
  }, { additionalProperties: false }))
}, { $id: 'DryRunResult', additionalProperties: false, description: 'Answer to ?dryRun=true: nothing was sent to Marketo' })

/** Register these with `app.addSchema` (in this order) before the routes: route schemas `$ref` them. */
export const sharedSchemas = [ExternalKey, ObjectResult, SyncResult, ProblemDetails, DryRunResult] as const
