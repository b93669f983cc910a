import { Ajv, type AnySchema } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

// Bodies are validated without coercion (a string is never a number, B2) and unknown fields are
// rejected, not stripped. Path params and query strings arrive as text and are coerced.
export function createValidatorCompiler (sharedSchemas: readonly AnySchema[]): FastifySchemaCompiler<AnySchema> {
  const make = (coerceTypes: boolean | 'array'): Ajv => {
    const ajv = new Ajv({ coerceTypes, useDefaults: true, removeAdditional: false, allErrors: false, strict: false })
    addFormats.default(ajv)
    for (const s of sharedSchemas) ajv.addSchema(s)
    return ajv
  }
  const strict = make(false)
  const coercing = make('array')
  return ({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strict : coercing
    return ajv.compile(schema) as ReturnType<FastifySchemaCompiler<AnySchema>>
  }
}
