import type { Association, Attrib, MObject } from '../../domain/model.js'
import type { RolesBody } from '../schemas/roles.js'
import { ROLE_FIELDS } from '../../domain/fields.js'
import { MappingError } from './mapping-error.js'
import { externalKeyAttrib, tableAttribs, toSyncOperation, type SyncPlan } from './plan.js'

/**
 * Ids become the `OpportunityId`/`PersonId` attribs; external keys become `Opportunity`/`Lead`
 * associations, which lets a role point at an opportunity created earlier in the same call.
 */
export function planRoles (body: RolesBody): SyncPlan {
  const operation = toSyncOperation(body.operation ?? 'insert')
  const objects = body.roles.map((role, i): MObject => {
    const path = `/roles/${i}`
    // The schema already says "exactly one of"; this keeps a bypassed schema from sending half a role.
    if ((role.opportunityId === undefined) === (role.opportunity === undefined)) {
      throw new MappingError(path, 'must have exactly one of opportunityId and opportunity')
    }
    if ((role.personId === undefined) === (role.person === undefined)) {
      throw new MappingError(path, 'must have exactly one of personId and person')
    }
    const attribs: Attrib[] = tableAttribs(role, ROLE_FIELDS)
    const associations: Association[] = []
    if (role.opportunity !== undefined) associations.push({ mObjType: 'Opportunity', externalKey: externalKeyAttrib(role.opportunity.externalKey) })
    if (role.person !== undefined) associations.push({ mObjType: 'Lead', externalKey: externalKeyAttrib(role.person.externalKey) })
    const object: MObject = { type: 'OpportunityPersonRole', attribs }
    if (associations.length > 0) object.associations = associations
    return object
  })
  return { operation, objects }
}
