import fp from 'fastify-plugin'
import { Converter } from '@apiture/openapi-down-convert'

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const isNullType = (v: unknown): boolean => isObject(v) && v.type === 'null' && Object.keys(v).every((k) => k === 'type' || k === 'description')

/**
 * What the down-converter leaves of JSON Schema's null: `anyOf`/`oneOf` branches `{ type: 'null' }`
 * (TypeBox's `Type.Union([T, Type.Null()])`, which 3.0 cannot express) become `nullable: true` on
 * the schema: the one branch left is merged into it, or, when that branch is a $ref (which allows
 * no sibling keywords in 3.0), wrapped in `allOf`.
 */
function nullableFromNullBranches (node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) nullableFromNullBranches(item)
    return
  }
  if (!isObject(node)) return
  for (const key of ['anyOf', 'oneOf'] as const) {
    const branches = node[key]
    if (!Array.isArray(branches) || !branches.some(isNullType)) continue
    const rest = branches.filter((b) => !isNullType(b))
    node.nullable = true
    if (rest.length !== 1) {
      node[key] = rest
      continue
    }
    delete node[key]
    const only = rest[0] as Json
    if (typeof only.$ref === 'string') {
      node.allOf = [only]
    } else {
      for (const [k, v] of Object.entries(only)) if (!(k in node)) node[k] = v
    }
  }
  if (node.type === 'null') throw new Error('a schema that is only null has no OpenAPI 3.0 form')
  for (const value of Object.values(node)) nullableFromNullBranches(value)
}

/** The OpenAPI 3.0.3 rendition of the gateway's 3.1 document (GET /openapi-3.0.json, openapi/openapi-3.0.json). */
export function toOpenApi30 (doc31: object): Json {
  const doc = new Converter(structuredClone(doc31), { allOfTransform: false }).convert() as Json
  nullableFromNullBranches(doc)
  return doc
}

export default fp(async function openapi30Plugin (app) {
  let cached: Json | undefined
  // Same route schemas as /openapi.json, down-converted once on first use.
  app.get('/openapi-3.0.json', { schema: { hide: true } }, async () => {
    cached ??= toOpenApi30(app.swagger())
    return cached
  })
}, { name: 'openapi-3.0', dependencies: ['swagger'] })
