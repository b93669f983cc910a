/* eslint-disable @typescript-eslint/no-redeclare -- TypeBox idiom: a schema and its Static<> type share one name */
import { Type, type Static } from '@sinclair/typebox'
import { IdParam, Id, MAX_PROGRAM_ENTRIES, Money, MonthString, NAME_MAX_LENGTH, SafeString, TEXT_MAX_LENGTH } from './common.js'

export const ProgramParams = Type.Object({
  programId: IdParam({ description: 'Marketo program id (xs:int)' })
}, { $id: 'ProgramParams', additionalProperties: false })
export type ProgramParams = Static<typeof ProgramParams>

export const ProgramCost = Type.Object({
  month: MonthString({ description: 'Period of the cost, YYYY-MM' }),
  amount: Money({ description: 'Cost amount (|x| ≤ 1e15)' }),
  id: Type.Optional(Id({ description: 'Marketo cost id: updates that cost line instead of adding one' })),
  note: Type.Optional(SafeString({ maxLength: TEXT_MAX_LENGTH }))
}, { additionalProperties: false })
export type ProgramCost = Static<typeof ProgramCost>

export const ProgramCostsBody = Type.Object({
  costs: Type.Array(ProgramCost, {
    minItems: 1,
    maxItems: MAX_PROGRAM_ENTRIES,
    description: `1 to ${MAX_PROGRAM_ENTRIES} period costs, all sent as Cost typeAttribs of one Program MObject (UPDATE)`
  }),
  replace: Type.Optional(Type.Boolean({
    description: 'REST backend only (MARKETO_BACKEND=rest): true removes every existing cost line of the program and keeps only these ' +
      '(Update Program with costsDestructiveUpdate=true), so repeating the request leaves the same lines. Absent or false: the costs are ' +
      'added (REST appends; SOAP updates the lines named by id). The SOAP API cannot remove cost lines, so true answers 400 there'
  }))
}, {
  $id: 'ProgramCostsBody',
  additionalProperties: false,
  // Examples are checked against a live SOAP gateway (test/ecosystem), where replace answers 400.
  examples: [{ costs: [{ month: '2013-06', amount: 2000, id: 153 }] }]
})
export type ProgramCostsBody = Static<typeof ProgramCostsBody>

export const ProgramTag = Type.Object({
  type: SafeString({ minLength: 1, maxLength: NAME_MAX_LENGTH, description: 'Tag type, e.g. Channel; must already exist in Marketo' }),
  value: SafeString({ minLength: 1, maxLength: NAME_MAX_LENGTH, description: 'Tag value; must already exist in Marketo' })
}, { additionalProperties: false })
export type ProgramTag = Static<typeof ProgramTag>

export const ProgramTagsBody = Type.Object({
  tags: Type.Array(ProgramTag, {
    minItems: 1,
    maxItems: MAX_PROGRAM_ENTRIES,
    description: `1 to ${MAX_PROGRAM_ENTRIES} tags or channels, all sent as Tag typeAttribs of one Program MObject (UPDATE)`
  })
}, {
  $id: 'ProgramTagsBody',
  additionalProperties: false,
  examples: [{ tags: [{ type: 'Channel', value: 'Webinar' }] }]
})
export type ProgramTagsBody = Static<typeof ProgramTagsBody>
