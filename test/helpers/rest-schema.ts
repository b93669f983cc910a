import { readFileSync } from 'node:fs'
import { Ajv, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type { LedgerEntry } from '../../simulator/index.js'

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
const createProgram = bodySchema('asset', '/rest/asset/v1/programs.json', 'post')
// The compound-key query's body: the subset names LookupCustomObjectRequest but leaves it out,
// so its shape is taken from opportunity-roles.md's example (filterType, fields, input).
const lookupByBody = ajv.compile({
  type: 'object',
  required: ['filterType', 'input'],
  properties: {
    filterType: { type: 'string' },
    fields: { type: 'array', items: { type: 'string' } },
    input: { type: 'array', minItems: 1, items: { type: 'object' } },
    batchSize: { type: 'integer' },
    nextPageToken: { type: 'string' }
  },
  additionalProperties: false
})

interface QueryParam { name: string, in: string, required?: boolean, type?: string }

/** The query parameters of a GET operation of the subset, by its path template. */
function getOperation (path: string): { template: string, params: QueryParam[] } | undefined {
  for (const api of ['mapi', 'asset'] as const) {
    for (const [template, ops] of Object.entries(subset[api].paths as Record<string, { get?: { parameters?: QueryParam[] } }>)) {
      const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, '\\d+').replaceAll('.', '\\.')}$`)
      if (ops.get !== undefined && re.test(path)) return { template, params: (ops.get.parameters ?? []).filter((p) => p.in === 'query') }
    }
  }
  return undefined
}

/** A GET's query string against the operation's declared parameters: names, required ones, integers. */
function queryProblems (path: string, query: string): string[] {
  const op = getOperation(path)
  if (op === undefined) return [`GET ${path}: not an operation of the OpenAPI subset`]
  const params = new URLSearchParams(query)
  const problems: string[] = []
  for (const name of new Set(params.keys())) {
    const spec = op.params.find((p) => p.name === name)
    if (spec === undefined) problems.push(`GET ${op.template}: unknown query parameter ${name}`)
    else if (spec.type === 'integer' && !params.getAll(name).every((v) => /^-?\d+$/.test(v))) problems.push(`GET ${op.template}: ${name} is not an integer`)
  }
  for (const p of op.params) if (p.required === true && !params.has(p.name)) problems.push(`GET ${op.template}: required query parameter ${p.name} missing`)
  return problems
}

/** The schema problems of one REST request the simulator received, or [] when it conforms. */
export function restRequestProblems (entry: LedgerEntry): string[] {
  const r = entry.rest
  if (r === undefined) return []
  if (r.method === 'GET') return [...(r.tokenIn !== 'header' ? [`${r.path}: access token not in the Authorization header`] : []), ...queryProblems(r.path, r.query)]
  if (r.method !== 'POST') return []
  const tokenProblems = r.tokenIn !== 'header' ? [`${r.path}: access token not in the Authorization header`] : []
  // POST ?_method=GET: a read whose query string travels in a form body (error-codes.md 414), or
  // the compound-key query's JSON body.
  const query = new URLSearchParams(r.query)
  if (query.get('_method') === 'GET') {
    query.delete('_method')
    if (typeof r.body === 'string') return [...tokenProblems, ...queryProblems(r.path, `${query}&${r.body}`)]
    if (r.path !== '/rest/v1/opportunities/roles.json' && r.path !== '/rest/v1/opportunities.json') return [`${r.path}: no compound query in the OpenAPI subset`]
    return [...tokenProblems, ...(lookupByBody(r.body) ? [] : (lookupByBody.errors ?? []).map((e) => `${r.path} body${e.instancePath} ${e.message ?? 'is invalid'}`))]
  }
  let body = r.body
  let validate: ValidateFunction | undefined
  if (r.path === '/rest/v1/opportunities.json') validate = syncOpportunities
  else if (r.path === '/rest/v1/opportunities/roles.json') validate = syncRoles
  else if (r.path === '/rest/v1/opportunities/delete.json') validate = deleteOpportunities
  else if (r.path === '/rest/v1/opportunities/roles/delete.json') validate = deleteRoles
  else if (/^\/rest\/asset\/v1\/program\/\d+\.json$/.test(r.path)) validate = updateProgram
  else if (r.path === '/rest/asset/v1/programs.json') validate = createProgram
  if (validate === undefined) return [`${r.path}: no request schema in the OpenAPI subset`]
  // A form carries the boolean costsDestructiveUpdate as text.
  if (validate !== createProgram && validate !== updateProgram) body = r.body
  else if (typeof r.body === 'object' && r.body !== null && ['true', 'false'].includes(String((r.body as Record<string, unknown>).costsDestructiveUpdate))) {
    body = { ...r.body, costsDestructiveUpdate: (r.body as Record<string, unknown>).costsDestructiveUpdate === 'true' }
  }
  const problems: string[] = [...tokenProblems]
  if (!validate(body)) problems.push(...(validate.errors ?? []).map((e) => `${r.path} body${e.instancePath} ${e.message ?? 'is invalid'}`))
  return problems
}
