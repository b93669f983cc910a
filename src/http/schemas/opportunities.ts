/* eslint-disable @typescript-eslint/no-redeclare -- TypeBox idiom: a schema and its Static<> type share one name */
import { Type, type Static } from '@sinclair/typebox'
import { OPPORTUNITY_RESERVED_NAMES } from '../../domain/fields.js'
import {
  DateString, ExternalKey, FieldMap, Id, IdParam, MarketoGuid, MAX_BATCH, MONEY_LIMIT, Money, NAME_MAX_LENGTH,
  RestOperation, SafeString, TEXT_MAX_LENGTH, ref
} from './common.js'

export const OpportunityParams = Type.Object({
  id: IdParam({ description: 'Marketo opportunity id (xs:int)' })
}, { $id: 'OpportunityParams', additionalProperties: false })
export type OpportunityParams = Static<typeof OpportunityParams>

const Name = () => SafeString({ maxLength: NAME_MAX_LENGTH })

export const CompanyRef = Type.Union([
  Type.Object({ id: Id({ description: 'Marketo company id' }) }, { additionalProperties: false }),
  Type.Object({ externalKey: ref(ExternalKey) }, { additionalProperties: false })
], { description: 'The company of the opportunity, by id or by external key (exactly one). The REST backend links by the company\'s externalCompanyId only: {"externalKey":{"name":"externalCompanyId","value":…}} (anything else answers 400 there)' })
export type CompanyRef = Static<typeof CompanyRef>

// Keys and order mirror OPPORTUNITY_FIELDS (a unit test keeps them in step).
const opportunityFields = {
  name: Type.Optional(SafeString({ minLength: 1, maxLength: NAME_MAX_LENGTH })),
  description: Type.Optional(SafeString({ maxLength: TEXT_MAX_LENGTH })),
  amount: Type.Optional(Money()),
  expectedRevenue: Type.Optional(Money()),
  probability: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'Percent, 0 to 100' })),
  quantity: Type.Optional(Type.Number({ minimum: 0, maximum: MONEY_LIMIT })),
  closeDate: Type.Optional(DateString()),
  externalCreatedDate: Type.Optional(DateString()),
  lastActivityDate: Type.Optional(DateString()),
  fiscal: Type.Optional(Name()),
  fiscalQuarter: Type.Optional(Type.Integer({ minimum: 1, maximum: 4 })),
  fiscalYear: Type.Optional(Type.Integer({ minimum: 1900, maximum: 2999 })),
  forecastCategoryName: Type.Optional(Name()),
  leadSource: Type.Optional(Name()),
  nextStep: Type.Optional(Name()),
  stage: Type.Optional(Name()),
  type: Type.Optional(Name()),
  isClosed: Type.Optional(Type.Boolean()),
  isWon: Type.Optional(Type.Boolean()),
  customFields: Type.Optional(FieldMap({
    reserved: OPPORTUNITY_RESERVED_NAMES,
    description: 'Instance-specific Opportunity fields by Marketo API name (not a standard field name), sent after the standard fields in this order'
  })),
  company: Type.Optional(CompanyRef)
}

export const OpportunityInput = Type.Object({
  id: Type.Optional(Id({ description: 'Marketo opportunity id' })),
  externalKey: Type.Optional(ref(ExternalKey)),
  marketoGUID: Type.Optional(MarketoGuid({ description: 'REST backend only (MARKETO_BACKEND=rest): names an existing opportunity, for operation update' })),
  ...opportunityFields
}, {
  additionalProperties: false,
  description: 'update and upsert need exactly one of id, externalKey and marketoGUID (marketoGUID: REST backend, update only); insert may omit all three'
})
export type OpportunityInput = Static<typeof OpportunityInput>

export const OpportunitiesBody = Type.Object({
  operation: Type.Optional(RestOperation('upsert')),
  opportunities: Type.Array(OpportunityInput, { minItems: 1, maxItems: MAX_BATCH, description: `1 to ${MAX_BATCH} opportunities` })
}, {
  $id: 'OpportunitiesBody',
  additionalProperties: false,
  examples: [{
    operation: 'insert',
    opportunities: [{ name: 'Q1 2014', amount: 2000, probability: 80 }]
  }, {
    operation: 'upsert',
    opportunities: [{
      externalKey: { name: 'opportunityId', value: 'OPP-2014-Q1' },
      name: 'Q1 2014',
      amount: 2000,
      closeDate: '2014-03-31',
      stage: 'Prospecting',
      isWon: false,
      customFields: { Region__c: 'EMEA' },
      company: { id: 42 }
    }]
  }]
})
export type OpportunitiesBody = Static<typeof OpportunitiesBody>

export const OpportunityPatchBody = Type.Object(opportunityFields, {
  $id: 'OpportunityPatchBody',
  additionalProperties: false,
  minProperties: 1,
  description: 'Fields to change on the opportunity named by the path id (UPDATE)',
  examples: [{ stage: 'Closed Won', isClosed: true, isWon: true, probability: 100 }]
})
export type OpportunityPatchBody = Static<typeof OpportunityPatchBody>
