import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Config } from './config.js'
import errorsPlugin from './plugins/errors.js'
import marketoPlugin from './plugins/marketo.js'
import swaggerPlugin from './plugins/swagger.js'
import { createValidatorCompiler } from './plugins/validation.js'
import healthRoutes from './routes/health.js'
import writeRoutes from './routes/writes.js'
import { sharedSchemas } from './schemas/common.js'

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
  'config.marketo.encryptionKey'
]

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export function loggerOptions (config: Config, stream?: NodeJS.WritableStream): FastifyServerOptions['logger'] {
  const base = { level: config.logLevel, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } }
  if (stream !== undefined) return { ...base, stream }
  if (process.stdout.isTTY && process.env.NODE_ENV !== 'production') {
    return { ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } }
  }
  return base
}

export async function buildApp (config: Config, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(config, opts.logStream),
    bodyLimit: config.bodyLimitBytes,
    requestIdHeader: false,
    // A caller's request id is kept only when it is short and plain (no log injection).
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: false } }
  })
  // JSON only: Fastify's default text/plain parser would let a non-JSON body reach validation.
  app.removeContentTypeParser('text/plain')
  app.setValidatorCompiler(createValidatorCompiler(sharedSchemas))
  for (const schema of sharedSchemas) app.addSchema(schema)

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-request-id', String(request.id))
    reply.header('cache-control', 'no-store')
    reply.header('x-content-type-options', 'nosniff')
    return payload
  })

  await app.register(errorsPlugin)
  await app.register(swaggerPlugin)
  await app.register(marketoPlugin, { config, now: opts.now })
  await app.register(healthRoutes)
  await app.register(writeRoutes, { requestTimeoutMs: config.requestTimeoutMs })
  return app
}
