import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import type { FastifyServerOptions } from 'fastify'

type SerializerFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildSerializer']

// Fastify's own serializer factory (fast-json-stringify), compiling each response schema object
// once per set of shared schemas. Fastify compiles one serializer per route and status code, and
// the routes share most of their response schemas (the problem responses): without this, start-up
// compiled 195 serializers for 39 distinct schema objects, each compilation also re-checking every
// shared schema. A serializer depends only on the schema and the shared schemas, so routes that
// use the same schema object can use the same function.
export function sharedSerializerFactory (): NonNullable<SerializerFactory> {
  const buildSerializer = SerializerSelector()
  return (externalSchemas, options) => {
    const compile = buildSerializer(externalSchemas, options)
    const compiled = new WeakMap<object, ReturnType<typeof compile>>()
    return (route) => {
      const schema = route.schema
      if (typeof schema !== 'object' || schema === null) return compile(route)
      let serializer = compiled.get(schema)
      if (serializer === undefined) {
        serializer = compile(route)
        compiled.set(schema, serializer)
      }
      return serializer
    }
  }
}
