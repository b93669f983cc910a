/* eslint-disable @typescript-eslint/no-redeclare -- TypeBox idiom: a schema and its Static<> type share one name */
import { Type, type Static } from '@sinclair/typebox'
import { StringEnum, ref, ObjectResult, STATUS_COUNTS } from '../http/schemas/common.js'
import { JOB_KINDS } from './input.js'
import { JOB_STATES } from './store.js'

export const JobParams = Type.Object({
  id: Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$', description: 'Job id (a UUID)' })
}, { additionalProperties: false })
export type JobParams = Static<typeof JobParams>

export const JobQuery = Type.Object({
  kind: Type.Optional(StringEnum(JOB_KINDS, { description: 'NDJSON bodies: what each line is' })),
  operation: Type.Optional(Type.String({ maxLength: 16, description: 'NDJSON bodies: insert, update or upsert (the kind\'s sync route default when omitted; required for mobjects)' }))
}, { additionalProperties: false })
export type JobQuery = Static<typeof JobQuery>

export const ResultsQuery = Type.Object({
  cursor: Type.Optional(Type.String({ pattern: '^(0|[1-9][0-9]{0,8})$', description: 'Index of the first result to return (nextCursor of the previous page)' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 1_000 }))
}, { additionalProperties: false })
export type ResultsQuery = Static<typeof ResultsQuery>

const Count = Type.Integer({ minimum: 0 })

export const JobView = Type.Object({
  id: Type.String(),
  kind: StringEnum(JOB_KINDS),
  operation: Type.String(),
  state: StringEnum(JOB_STATES, { description: 'queued, running, completed (every chunk has its results), failed (stopped; the rest not_applied) or cancelled (the rest not_applied)' }),
  total: Count,
  processed: Type.Integer({ minimum: 0, description: 'Objects with a final result' }),
  progress: Type.Number({ minimum: 0, maximum: 1 }),
  counts: Type.Object({
    ...STATUS_COUNTS,
    pending: Type.Integer({ minimum: 0, description: 'Objects not sent yet' })
  }, { additionalProperties: false }),
  calls: Type.Integer({ minimum: 0, description: 'Marketo calls made for this job' }),
  reconciled: Type.Integer({ minimum: 0, description: 'Objects of chunks delivered again after a replica stopped mid-call, reconciled by key' }),
  inFlightChunks: Type.Integer({ minimum: 0 }),
  createdAt: Type.String(),
  startedAt: Type.Optional(Type.String()),
  finishedAt: Type.Optional(Type.String()),
  eta: Type.Union([Type.Object({
    seconds: Type.Number({ minimum: 0 }),
    at: Type.String(),
    basis: Type.String({ description: 'What the estimate assumes: the bulk jobs\' share of the Marketo call window and the chunks queued ahead' })
  }, { additionalProperties: false }), Type.Null()]),
  error: Type.Optional(Type.String()),
  links: Type.Object({ self: Type.String(), results: Type.String() }, { additionalProperties: false })
}, { additionalProperties: false })
export type JobView = Static<typeof JobView>

export const JobResultsPage = Type.Object({
  id: Type.String(),
  state: StringEnum(JOB_STATES),
  results: Type.Array(ref(ObjectResult)),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'null when every object\'s result has been returned; otherwise where to continue (results of a running job appear as its chunks finish)' })
}, { additionalProperties: false })
