import { readFileSync } from 'node:fs'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type { LedgerEntry } from '../../src/simulator/index.js'

// The request schemas of the official Marketo REST OpenAPI subset (test/fixtures, copied from
// ../shared/marketo/rest-reference), applied to what the simulator's REST face received.
const subset = JSON.parse(readFileSync(new URL('../fixtures/marketo-rest-openapi-subset.json', import.meta.url), 'utf8'))

const ajv = new Ajv({ strict: false, allErrors: true })
addFormats.default(ajv)
ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && Math.abs(n) <= 2_147_483_647 })
ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) })
// CostRequest.startDate says date-time, while the Update Program docs' own example sends a date
// ("2016-01-01"); both are accepted, nothing else.
ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2}))?$/)
// CustomObject, the item of SyncCustomObjectRequest.input, is the response record reused: it
// requires marketoGUID and seq, whose own descriptions say they "should not be submitted" (and the
// docs' Sync Opportunities example sends neither). For requests those two are not required.
const mapiDefinitions = structuredClone(subset.mapi.definitions)
delete mapiDefinitions.CustomObject.required
ajv.addSchema({ $id: 'mapi', definitions: mapiDefinitions })
ajv.addSchema({ $id: 'asset', definitions: subset.asset.definitions })

function bodySchema (api: 'mapi' | 'asset', path: string, method: string): ValidateFunction | undefined {
  const op = subset[api].paths[path]?.[method]
  const param = op?.parameters?.find((p: { in: string }) => p.in === 'body')
  if (param === undefined) return undefined
  const ref = String(param.schema.$ref).replace('#/definitions/', `${api}#/definitions/`)
  return ajv.compile({ $ref: ref })
}

const syncOpportunities = bodySchema('mapi', '/rest/v1/opportunities.json', 'post')
const syncRoles = bodySchema('mapi', '/rest/v1/opportunities/roles.json', 'post')
const deleteOpportunities = bodySchema('mapi', '/rest/v1/opportunities/delete.json', 'post')
const deleteRoles = bodySchema('mapi', '/rest/v1/opportunities/roles/delete.json', 'post')
const updateProgram = bodySchema('asset', '/rest/asset/v1/program/{id}.json', 'post')

/** The schema problems of one REST request the simulator received, or [] when it conforms. */
export function restRequestProblems (entry: LedgerEntry): string[] {
  const r = entry.rest
  if (r === undefined || r.method !== 'POST') return []
  let validate: ValidateFunction | undefined
  if (r.path === '/rest/v1/opportunities.json') validate = syncOpportunities
  else if (r.path === '/rest/v1/opportunities/roles.json') validate = syncRoles
  else if (r.path === '/rest/v1/opportunities/delete.json') validate = deleteOpportunities
  else if (r.path === '/rest/v1/opportunities/roles/delete.json') validate = deleteRoles
  else if (/^\/rest\/asset\/v1\/program\/\d+\.json$/.test(r.path)) validate = updateProgram
  if (validate === undefined) return [`${r.path}: no request schema in the OpenAPI subset`]
  const problems: string[] = []
  if (r.tokenIn !== 'header') problems.push(`${r.path}: access token not in the Authorization header`)
  if (!validate(r.body)) problems.push(...(validate.errors ?? []).map((e) => `${r.path} body${e.instancePath} ${e.message ?? 'is invalid'}`))
  return problems
}
