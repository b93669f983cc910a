/* eslint-disable @typescript-eslint/no-redeclare -- TypeBox idiom: a schema and its Static<> type share one name */
import { Type, type Static } from '@sinclair/typebox'
import { ExternalKey, FieldMap, Id, MAX_BATCH, StringEnum, ref } from './common.js'

export const MObjectType = StringEnum(['Opportunity', 'OpportunityPersonRole', 'Program'] as const)
export const TypeAttributeType = StringEnum(['Cost', 'Tag'] as const, { description: 'Program only' })
export const AssociationType = StringEnum(['Company', 'Lead', 'Opportunity'] as const)

export const TypeAttributeInput = Type.Object({
  type: TypeAttributeType,
  attributes: FieldMap()
}, { additionalProperties: false })
export type TypeAttributeInput = Static<typeof TypeAttributeInput>

export const AssociationInput = Type.Union([
  Type.Object({ type: AssociationType, id: Id() }, { additionalProperties: false }),
  Type.Object({ type: AssociationType, externalKey: ref(ExternalKey) }, { additionalProperties: false })
], { description: 'An associated object by id or by external key (exactly one)' })
export type AssociationInput = Static<typeof AssociationInput>

export const MObjectInput = Type.Object({
  type: MObjectType,
  id: Type.Optional(Id()),
  externalKey: Type.Optional(ref(ExternalKey)),
  attributes: Type.Optional(FieldMap({ description: 'Attribs by Marketo API name, sent in this order' })),
  typeAttributes: Type.Optional(Type.Array(TypeAttributeInput, { minItems: 1, maxItems: 100 })),
  associations: Type.Optional(Type.Array(AssociationInput, { minItems: 1, maxItems: 10 }))
}, {
  additionalProperties: false,
  description: 'Program needs id; Opportunity with UPDATE or UPSERT needs id or externalKey (not both)'
})
export type MObjectInput = Static<typeof MObjectInput>

export const MObjectsSyncBody = Type.Object({
  operation: StringEnum(['INSERT', 'UPDATE', 'UPSERT'] as const),
  mObjects: Type.Array(MObjectInput, { minItems: 1, maxItems: MAX_BATCH, description: `1 to ${MAX_BATCH} MObjects` })
}, {
  $id: 'MObjectsSyncBody',
  additionalProperties: false,
  description: 'Generic syncMObjects: values are sent as given (booleans as 1/0, numbers as decimal strings)',
  examples: [{
    operation: 'UPDATE',
    mObjects: [{ type: 'Program', id: 1970, typeAttributes: [{ type: 'Cost', attributes: { Month: '2013-06', Amount: 2000, Id: 153 } }] }]
  }, {
    operation: 'INSERT',
    mObjects: [{ type: 'Opportunity', attributes: { Name: 'Q1 2014', Amount: 2000, Probability: 80 } }]
  }, {
    operation: 'INSERT',
    mObjects: [{ type: 'OpportunityPersonRole', attributes: { OpportunityId: 64, PersonId: 19, Role: 'Influencer/Champion' } }]
  }]
})
export type MObjectsSyncBody = Static<typeof MObjectsSyncBody>
