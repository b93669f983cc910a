import type { MObject, TypeAttrib } from '../../domain/model.js'
import type { ProgramCostsBody, ProgramTagsBody } from '../schemas/programs.js'
import { COST_FIELDS, TAG_FIELDS } from '../../domain/fields.js'
import { tableAttribs, type SyncPlan } from './plan.js'

// Marketo updates programs only (INSERT/UPSERT fail), and the status is keyed by the program id.
function programPlan (programId: number, typeAttribs: TypeAttrib[], replaceCosts = false): SyncPlan {
  const program: MObject = { type: 'Program', id: programId, typeAttribs }
  if (replaceCosts) program.replaceCosts = true
  return { operation: 'UPDATE', objects: [program] }
}

export function planProgramCosts (programId: number, body: ProgramCostsBody): SyncPlan {
  return programPlan(programId, body.costs.map(cost => ({ attrType: 'Cost', attribs: tableAttribs(cost, COST_FIELDS) })), body.replace === true)
}

export function planProgramTags (programId: number, body: ProgramTagsBody): SyncPlan {
  return programPlan(programId, body.tags.map(tag => ({ attrType: 'Tag', attribs: tableAttribs(tag, TAG_FIELDS) })))
}
