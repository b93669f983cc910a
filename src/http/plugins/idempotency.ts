import fp from 'fastify-plugin'
import { createHash } from 'node:crypto'
import { configure } from 'safe-stable-stringify'
import { GatewayError } from '../../domain/errors.js'
import { sendProblem } from './errors.js'
import { MemoryIdempotencyStore, type IdempotencyStore } from '../../upstream/state/idempotency.js'

declare module 'fastify' {
  interface FastifyRequest {
    idempotencyKey: string | null
  }
}

export interface IdempotencyOptions {
  ttlMs: number
  maxEntries: number
  store?: IdempotencyStore
}

// Printable ASCII, long enough not to collide by accident (a UUID is the intended form).
const KEY_PATTERN = /^[\x21-\x7E]{8,255}$/

// The body's canonical form for the fingerprint: object keys sorted at every depth, arrays in
// their order. A client that rebuilds the same body on a retry (keys in another order) sends the
// same request; JSON.stringify would see another one and answer 422.
const canonicalJson = configure({ deterministic: true })

// IETF httpapi Idempotency-Key semantics on every write route: the first response (success or
// error) is stored with a fingerprint of the request and replayed for the key's lifetime; the
// same key with another request → 422; while the first is in flight → 409 with Retry-After.
export default fp<IdempotencyOptions>(async function idempotencyPlugin (app, opts) {
  const store = opts.store ?? new MemoryIdempotencyStore(opts.maxEntries)
  app.decorateRequest('idempotencyKey', null)

  app.addHook('preHandler', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD') return
    // A dry run sends nothing, so it neither claims nor replays a key.
    if ((request.query as { dryRun?: boolean } | undefined)?.dryRun === true) return
    const header = request.headers['idempotency-key']
    if (header === undefined) return
    if (typeof header !== 'string' || !KEY_PATTERN.test(header)) {
      return sendProblem(request, reply, new GatewayError('INVALID_HEADER', 'Idempotency-Key must be 8 to 255 printable ASCII characters (a UUID is recommended)'))
    }
    const owner = (request as { apiKeyName?: string | null }).apiKeyName ?? '-'
    const key = `${owner}\u0000${header}`
    const fingerprint = createHash('sha256')
      .update(`${request.method} ${request.url.split('?')[0]}\n${canonicalJson(request.body ?? null)}`)
      .digest('hex')
    const existing = store.get(key)
    if (existing !== undefined) {
      if (existing.fingerprint !== fingerprint) {
        return sendProblem(request, reply, new GatewayError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request; use a new key for a new request'))
      }
      if (existing.response === undefined) {
        return sendProblem(request, reply, new GatewayError('IDEMPOTENCY_KEY_IN_USE', 'the first request with this Idempotency-Key is still being processed', { retryAfterMs: 1_000 }))
      }
      const stored = existing.response
      reply.header('idempotent-replayed', 'true')
      if (stored.retryAfter !== undefined) reply.header('retry-after', stored.retryAfter)
      return reply.code(stored.statusCode).type(stored.contentType).serializer((p: unknown) => p as string).send(stored.body)
    }
    if (!store.begin(key, fingerprint, opts.ttlMs)) {
      return sendProblem(request, reply, new GatewayError('IDEMPOTENCY_KEY_IN_USE', 'the first request with this Idempotency-Key is still being processed', { retryAfterMs: 1_000 }))
    }
    request.idempotencyKey = key
  })

  app.addHook('onSend', async (request, reply, payload) => {
    const key = request.idempotencyKey
    if (key === null) return payload
    request.idempotencyKey = null
    if (typeof payload !== 'string') {
      store.release(key)
      return payload
    }
    const retryAfter = reply.getHeader('retry-after')
    store.complete(key, {
      statusCode: reply.statusCode,
      contentType: String(reply.getHeader('content-type') ?? 'application/json'),
      retryAfter: retryAfter === undefined ? undefined : String(retryAfter),
      body: payload
    }, opts.ttlMs)
    return payload
  })

  // A request that ends without a response (client gone before the handler finished) frees its key.
  app.addHook('onResponse', async (request) => {
    if (request.idempotencyKey !== null) store.release(request.idempotencyKey)
  })
}, { name: 'idempotency' })
