import type { Association, MObject } from '../../domain/model.js'
import type { ExternalKey } from '../schemas/common.js'
import type { CompanyRef, OpportunitiesBody, OpportunityPatchBody } from '../schemas/opportunities.js'
import { OPPORTUNITY_FIELDS, OPPORTUNITY_RESERVED_NAMES } from '../../domain/fields.js'
import { MappingError } from './mapping-error.js'
import { externalKeyAttrib, mapAttribs, tableAttribs, toSyncOperation, type SyncPlan } from './plan.js'

type OpportunityFields = OpportunityPatchBody
interface OpportunityKey { id?: number, externalKey?: ExternalKey, marketoGUID?: string }

const RESERVED = new Set(OPPORTUNITY_RESERVED_NAMES.map(n => n.toLowerCase()))

/**
 * INSERT creates without a key; UPDATE and UPSERT key on id, externalKey or (REST) marketoGUID, so
 * they need one, and only one: with two, which one Marketo keys on is undocumented.
 */
export function planOpportunities (body: OpportunitiesBody): SyncPlan {
  const operation = toSyncOperation(body.operation ?? 'upsert')
  const objects = body.opportunities.map((opportunity, i) => {
    const path = `/opportunities/${i}`
    const keys = [opportunity.id, opportunity.externalKey, opportunity.marketoGUID].filter((k) => k !== undefined).length
    if (keys > 1) throw new MappingError(path, 'must have only one of id, externalKey and marketoGUID')
    if (operation !== 'INSERT' && keys === 0) {
      throw new MappingError(path, `must have id, externalKey or marketoGUID for ${operation.toLowerCase()}`)
    }
    return opportunityObject(opportunity, opportunity, path)
  })
  return { operation, objects }
}

export function planOpportunityPatch (id: number, body: OpportunityPatchBody): SyncPlan {
  return { operation: 'UPDATE', objects: [opportunityObject({ id }, body, '')] }
}

function opportunityObject (key: OpportunityKey, input: OpportunityFields, path: string): MObject {
  const object: MObject = { type: 'Opportunity' }
  if (key.id !== undefined) object.id = key.id
  if (key.externalKey !== undefined) object.externalKey = externalKeyAttrib(key.externalKey)
  if (key.marketoGUID !== undefined) object.marketoGUID = key.marketoGUID
  const attribs = tableAttribs(input, OPPORTUNITY_FIELDS)
  if (input.customFields !== undefined) {
    for (const name of Object.keys(input.customFields)) {
      // The schema refuses exact standard names; a case variant may reach the same Marketo field, so refuse it too.
      if (RESERVED.has(name.toLowerCase())) {
        throw new MappingError(`${path}/customFields/${name}`, 'is a standard or system Opportunity field: use its own property')
      }
    }
    attribs.push(...mapAttribs(input.customFields))
  }
  if (attribs.length > 0) object.attribs = attribs
  if (input.company !== undefined) object.associations = [companyAssociation(input.company)]
  return object
}

function companyAssociation (company: CompanyRef): Association {
  return 'id' in company
    ? { mObjType: 'Company', id: company.id }
    : { mObjType: 'Company', externalKey: externalKeyAttrib(company.externalKey) }
}
