import { Ajv, type AnySchema, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'
import { INSTANT_FORMAT, INTEGER_TEXT } from '../schemas/common.js'

// Bodies are validated without coercion (a string is never a number, B2) and unknown fields are
// rejected, not stripped. Path params and query strings arrive as text and are coerced, but an
// integer only from canonical decimal text (see strictIntegers).
export function createValidatorCompiler (sharedSchemas: readonly AnySchema[]): FastifySchemaCompiler<AnySchema> {
  const make = (coerceTypes: boolean | 'array'): Ajv => {
    const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false, strict: false })
    addFormats.default(ajv)
    ajv.addFormat(INSTANT_FORMAT.name, INSTANT_FORMAT.validate)
    for (const s of sharedSchemas) ajv.addSchema(s)
    return ajv
  }
  const strict = make(false)
  const coercing = make('array')
  return ({ schema, httpPart }) => {
    if (httpPart === 'body') return strict.compile(schema) as ReturnType<FastifySchemaCompiler<AnySchema>>
    return strictIntegers(schema, coercing.compile(schema))
  }
}

type Validator = ((data: unknown, ctx?: unknown) => boolean) & { errors?: ErrorObject[] | null, schemaEnv?: unknown }

function isIntegerSchema (s: unknown): boolean {
  if (s === null || typeof s !== 'object') return false
  const type = (s as { type?: unknown }).type
  return type === 'integer' || (Array.isArray(type) && type.includes('integer'))
}

/**
 * ajv coerces text to a number with Number() semantics: `0x40`, `1e1`, ` 64 `, `+1`, `01`, `1.0`
 * would all pass as other ids than the caller wrote. Before ajv runs, every property the schema
 * types as integer must be canonical decimal text (INTEGER_TEXT: digits, no leading zero, an
 * optional minus); ajv then converts it exactly and checks its range. Holds for every route's
 * params and querystring, whatever builds the schema.
 */
function strictIntegers (schema: AnySchema, validate: ValidateFunction): Validator {
  const properties = typeof schema === 'object' && schema !== null && typeof schema.properties === 'object' && schema.properties !== null
    ? schema.properties as Record<string, unknown>
    : {}
  const integers = Object.keys(properties).filter((k) => isIntegerSchema(properties[k]))
  if (integers.length === 0) return validate as Validator
  const wrapped: Validator = (data, ctx) => {
    if (data !== null && typeof data === 'object') {
      for (const name of integers) {
        const value = (data as Record<string, unknown>)[name]
        const texts = Array.isArray(value) ? value : [value]
        if (texts.some((t) => typeof t === 'string' && !INTEGER_TEXT.test(t))) {
          wrapped.errors = [{
            instancePath: '/' + name.replaceAll('~', '~0').replaceAll('/', '~1'),
            schemaPath: `#/properties/${name}/type`,
            keyword: 'type',
            params: { type: 'integer' },
            message: 'must be an integer written in plain decimal digits (no plus sign, leading zero, space, fraction, exponent or hex)'
          }]
          return false
        }
      }
    }
    const ok = validate(data, ctx as Parameters<ValidateFunction>[1])
    wrapped.errors = validate.errors
    return ok
  }
  // Fastify passes the parent object (so ajv can replace the root) only to a function with schemaEnv.
  wrapped.schemaEnv = validate.schemaEnv
  return wrapped
}
