import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Config } from './config.js'
import auditPlugin from './http/plugins/audit.js'
import authPlugin from './http/plugins/auth.js'
import corsPlugin from './http/plugins/cors.js'
import errorsPlugin from './http/plugins/errors.js'
import jsonParserPlugin from './http/plugins/json-parser.js'
import { clientErrorHandler } from './http/plugins/client-error.js'
import marketoPlugin from './http/plugins/marketo.js'
import metricsPlugin from './http/plugins/metrics.js'
import budgetMetricsPlugin from './http/plugins/budget-metrics.js'
import swaggerPlugin from './http/plugins/swagger.js'
import openapi30Plugin from './http/plugins/openapi-3.0.js'
import { createValidatorCompiler } from './http/plugins/validation.js'
import { sharedSerializerFactory } from './http/plugins/serialization.js'
import healthRoutes from './http/routes/health.js'
import idempotencyPlugin from './http/plugins/idempotency.js'
import writeRoutes from './http/routes/writes.js'
import readRoutes from './http/routes/reads.js'
import deleteRoutes from './http/routes/deletes.js'
import jobRoutes from './jobs/routes.js'
import { DescribeCache } from './upstream/describe-cache.js'
import { readSchemas } from './http/schemas/reads.js'
import { sharedSchemas } from './http/schemas/common.js'
import { openSharedRedis } from './upstream/state/redis/shared.js'
import { RedisIdempotencyStore } from './upstream/state/redis/idempotency-store.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** When this request must be answered: arrival + REQUEST_TIMEOUT_MS. */
    deadline: number
  }
}

export interface BuildOptions {
  // A pino destination for tests (e.g. to scan every log line); defaults to stdout.
  logStream?: NodeJS.WritableStream
  now?: () => Date
}

// Secrets never reach a log line, at any level (SECURITY.md).
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  '*.encryptionKey',
  '*.requestSignature',
  '*.mktowsUserId',
  'config.marketo.encryptionKey',
  '*.clientSecret',
  '*.client_secret',
  '*.access_token',
  'config.marketo.rest.clientSecret'
]

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

interface LoggedRequest { method: string, url: string, host?: string, ip?: string, socket?: { remotePort?: number } }

// Fastify's request serializer without the query string: no route reads one, and a caller may put
// a key there (`?api_key=`), which must not reach a log line.
export function serializeRequest (req: LoggedRequest): Record<string, unknown> {
  const q = req.url.indexOf('?')
  return {
    method: req.method,
    url: q < 0 ? req.url : req.url.slice(0, q) + '?[REDACTED]',
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort
  }
}

export function loggerOptions (config: Config, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  const base = { level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' }, serializers: { req: serializeRequest } }
  if (stream !== undefined) return { ...base, stream }
  if (process.stdout.isTTY && process.env.NODE_ENV !== 'production') {
    return { ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
  }
  return base
}

export async function buildApp (config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  // OpenTelemetry only when configured: without OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT its module
  // is never imported and no hook or logger factory is installed (src/http/plugins/tracing.ts).
  const tracing = config.tracing === null ? undefined : (await import('./http/plugins/tracing.js')).startTracing(config.tracing)
  const app = Fastify({
    ...(tracing === undefined ? {} : { childLoggerFactory: tracing.childLoggerFactory }),
    logger: loggerOptions(config, opts.logStream),
    bodyLimit: config.bodyLimitBytes,
    requestIdHeader: false,
    // A caller's request id is kept only when it is short and plain (no log injection).
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    return503OnClosing: true,
    clientErrorHandler,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: false } },
    schemaController: { compilersFactory: { buildSerializer: sharedSerializerFactory() } }
  })
  if (tracing !== undefined) {
    app.decorate('tracing', tracing)
    await app.register(tracing.plugin)
  }
  // JSON only: Fastify's default text/plain parser would let a non-JSON body reach validation.
  app.removeContentTypeParser('text/plain')
  await app.register(jsonParserPlugin)
  // Shared schemas are registered once, at the root, for both the validators and the serializers:
  // a child context that adds schemas of its own loses the custom validator compiler.
  const schemas = [...sharedSchemas, ...readSchemas]
  app.setValidatorCompiler(createValidatorCompiler(schemas))
  for (const schema of schemas) app.addSchema(schema)

  // While draining, answers to in-flight requests close their keep-alive connections, so the
  // server can finish closing as soon as the last one is sent.
  let draining = false
  app.addHook('preClose', async () => { draining = true })
  // One deadline per request, set when it arrives and passed to every step (describe, then the
  // list; the custom-field check, then the write).
  app.decorateRequest('deadline', 0)
  app.addHook('onRequest', async (request) => { request.deadline = Date.now() + config.requestTimeoutMs })
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-request-id', String(request.id))
    reply.header('cache-control', 'no-store')
    reply.header('x-content-type-options', 'nosniff')
    if (draining) reply.header('connection', 'close')
    return payload
  })

  // Several replicas (REDIS_URL): one connection for every piece of shared state.
  const shared = config.redis === null ? undefined : await openSharedRedis(config.redis, app.log, { connectionName: `marketo-gateway:${process.pid}` })
  if (shared !== undefined) app.addHook('onClose', async () => { await shared.close() })

  await app.register(errorsPlugin)
  // Before auth: a CORS preflight is answered before the auth hook runs (src/plugins/cors.ts).
  await app.register(corsPlugin, { origins: config.corsOrigins })
  await app.register(authPlugin, {
    auth: config.auth,
    embeddedSimulator: (config.marketo.backend === 'rest' ? config.marketo.rest.endpoint : config.marketo.endpoint) === undefined,
    shared: shared === undefined ? undefined : { redis: shared.client, prefix: shared.prefix, available: () => shared.health.available }
  })
  await app.register(auditPlugin)
  await app.register(swaggerPlugin)
  await app.register(openapi30Plugin)
  await app.register(metricsPlugin)
  await app.register(marketoPlugin, { config, now: opts.now, shared })
  if (tracing !== undefined) {
    app.marketo.calls.setTracer(tracing.calls)
    app.marketo.bulk.calls.setTracer(tracing.calls)
  }
  await app.register(budgetMetricsPlugin, config.marketo.quotaDay)
  await app.register(idempotencyPlugin, {
    ...config.idempotency,
    store: shared === undefined ? undefined : new RedisIdempotencyStore({ redis: shared.client, prefix: shared.prefix }),
    available: shared === undefined ? undefined : () => shared.health.available
  })
  await app.register(healthRoutes)
  const reader = app.marketo.reader
  const describeCache = new DescribeCache(reader, config.describe.cacheTtlMs)
  // VALIDATE_CUSTOM_FIELDS: the writes and the bulk jobs check field names against it.
  const fieldCheck = config.describe.validateCustomFields ? describeCache : undefined
  await app.register(writeRoutes, { requestTimeoutMs: config.requestTimeoutMs, describeCache: fieldCheck, checkKeyNames: config.marketo.backend === 'soap' })
  await app.register(readRoutes, { requestTimeoutMs: config.requestTimeoutMs, reader, describeCache })
  await app.register(deleteRoutes, { requestTimeoutMs: config.requestTimeoutMs, reader })
  // Bulk jobs (POST /jobs): queued in Redis (REDIS_URL), sent by every replica's workers.
  await app.register(jobRoutes, { config, describeCache: fieldCheck })
  return app
}
