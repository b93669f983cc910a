import type { Association, MObject } from '../../domain/model.js'
import type { AssociationInput, MObjectInput, MObjectsSyncBody } from '../schemas/mobjects.js'
import { MappingError } from './mapping-error.js'
import { externalKeyAttrib, mapAttribs, type SyncPlan } from './plan.js'

/**
 * The generic route sends attributes as given, in the caller's order. Rules beyond the schema:
 * a Program is addressed by id only; an Opportunity with UPDATE or UPSERT needs id or
 * externalKey; no object may carry both.
 */
export function planMObjects (body: MObjectsSyncBody): SyncPlan {
  const operation = body.operation
  const objects = body.mObjects.map((input, i) => {
    const path = `/mObjects/${i}`
    if (input.id !== undefined && input.externalKey !== undefined) {
      throw new MappingError(path, 'must have id or externalKey, not both')
    }
    if (input.type === 'Program' && input.id === undefined) {
      throw new MappingError(path, 'a Program must have id')
    }
    if (input.type === 'Opportunity' && operation !== 'INSERT' && input.id === undefined && input.externalKey === undefined) {
      throw new MappingError(path, `must have id or externalKey for ${operation}`)
    }
    return mObject(input)
  })
  return { operation, objects }
}

function mObject (input: MObjectInput): MObject {
  const object: MObject = { type: input.type }
  if (input.id !== undefined) object.id = input.id
  if (input.externalKey !== undefined) object.externalKey = externalKeyAttrib(input.externalKey)
  if (input.attributes !== undefined) object.attribs = mapAttribs(input.attributes)
  if (input.typeAttributes !== undefined) {
    object.typeAttribs = input.typeAttributes.map(t => ({ attrType: t.type, attribs: mapAttribs(t.attributes) }))
  }
  if (input.associations !== undefined) object.associations = input.associations.map(association)
  return object
}

function association (input: AssociationInput): Association {
  return 'id' in input
    ? { mObjType: input.type, id: input.id }
    : { mObjType: input.type, externalKey: externalKeyAttrib(input.externalKey) }
}
