/* eslint-disable @typescript-eslint/no-redeclare -- TypeBox idiom: a schema and its Static<> type share one name */
import { Type, type Static } from '@sinclair/typebox'
import { DateString, ExternalKey, Id, MAX_BATCH, NAME_MAX_LENGTH, RestOperation, SafeString, ref } from './common.js'

const ByExternalKey = (description: string) => Type.Object({ externalKey: ref(ExternalKey) }, { additionalProperties: false, description })

/** `oneOf` of `required` pairs: JSON Schema's way to say "exactly one of". */
const exactlyOne = (a: string, b: string) => ({
  oneOf: [{ required: [a] }, { required: [b] }]
})

export const RoleInput = Type.Object({
  opportunityId: Type.Optional(Id({ description: 'Marketo opportunity id' })),
  opportunity: Type.Optional(ByExternalKey('The opportunity by external key, e.g. one created earlier in the same batch')),
  personId: Type.Optional(Id({ description: 'Marketo person (lead) id' })),
  person: Type.Optional(ByExternalKey('The person by external key')),
  role: Type.Optional(SafeString({ maxLength: NAME_MAX_LENGTH })),
  isPrimary: Type.Optional(Type.Boolean()),
  externalCreatedDate: Type.Optional(DateString())
}, {
  additionalProperties: false,
  description: 'Exactly one of opportunityId/opportunity and exactly one of personId/person',
  allOf: [exactlyOne('opportunityId', 'opportunity'), exactlyOne('personId', 'person')]
})
export type RoleInput = Static<typeof RoleInput>

export const RolesBody = Type.Object({
  operation: Type.Optional(RestOperation('insert')),
  roles: Type.Array(RoleInput, { minItems: 1, maxItems: MAX_BATCH, description: `1 to ${MAX_BATCH} roles` })
}, {
  $id: 'RolesBody',
  additionalProperties: false,
  description: 'OpportunityPersonRole objects. operation defaults to insert: roles have no id of their own, and a repeated insert is skipped',
  examples: [{
    operation: 'insert',
    roles: [{ opportunityId: 64, personId: 19, role: 'Influencer/Champion' }]
  }, {
    roles: [{
      opportunity: { externalKey: { name: 'opportunityId', value: 'OPP-2014-Q1' } },
      personId: 19,
      role: 'Decision Maker',
      isPrimary: true
    }]
  }]
})
export type RolesBody = Static<typeof RolesBody>
