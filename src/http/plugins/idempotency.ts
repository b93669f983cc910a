import fp from 'fastify-plugin'
import { createHash } from 'node:crypto'
import { configure } from 'safe-stable-stringify'
import { GatewayError } from '../../domain/errors.js'
import { sendProblem, type ProblemBody } from './errors.js'
import type { ObjectResult } from '../../domain/results.js'
import { MemoryIdempotencyStore, idempotencyKeyOf, type IdempotencyStore } from '../../upstream/state/idempotency.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The storage key of the Idempotency-Key this request holds, or null. */
    idempotencyKey: string | null
    /** The claim this request holds: markCalling() before a Marketo call is sent (issue #15 phase 2). */
    idempotencyClaim: IdempotencyClaim | null
  }
}

export interface IdempotencyClaim {
  key: string
  token: string
  /** False: the claim was lost (lease expired and taken over); the request must not call Marketo. */
  markCalling (): Promise<boolean>
}

export interface IdempotencyOptions {
  ttlMs: number
  maxEntries: number
  /**
   * How long a claim survives its owner without renewal (a shared store's dead replica). The
   * plugin renews the lease every third of it while the request runs. Default 60 s.
   */
  leaseMs?: number
  store?: IdempotencyStore
  /**
   * A shared store's availability (RedisHealth): while it is false, keyed requests answer 503 at
   * once instead of waiting for a Redis command timeout.
   */
  available?: () => boolean
}

// Printable ASCII, long enough not to collide by accident (a UUID is the intended form).
const KEY_PATTERN = /^[\x21-\x7E]{8,255}$/

// The body's canonical form for the fingerprint: object keys sorted at every depth, arrays in
// their order. A client that rebuilds the same body on a retry (keys in another order) sends the
// same request; JSON.stringify would see another one and answer 422.
const canonicalJson = configure({ deterministic: true })

// A 409 for a key in use tells the caller to come back soon: the first request usually ends well
// before its lease would.
const IN_USE_RETRY_MS = 1_000

interface Held {
  key: string
  token: string
  timer: NodeJS.Timeout
}

// A shared store that does not answer: the request is refused (fail closed). Serving it without a
// record would break the promise that a key is processed once.
function unavailable (cause?: unknown): GatewayError {
  return new GatewayError('IDEMPOTENCY_UNAVAILABLE', 'the shared Idempotency-Key store (Redis) is not answering, so a request with an Idempotency-Key cannot be processed safely; retry later, or send it without the key if a duplicate is harmless', { cause, retryAfterMs: 1_000, sent: false })
}

function inUse (retryAfterMs: number): GatewayError {
  return new GatewayError('IDEMPOTENCY_KEY_IN_USE', 'the first request with this Idempotency-Key is still being processed', { retryAfterMs: Math.max(1, Math.min(retryAfterMs, IN_USE_RETRY_MS)) })
}

// IETF httpapi Idempotency-Key semantics on every write route: the first response (success or
// error) is stored with a fingerprint of the request and replayed for the key's lifetime; the
// same key with another request → 422; while the first is in flight → 409 with Retry-After.
export default fp<IdempotencyOptions>(async function idempotencyPlugin (app, opts) {
  const store = opts.store ?? new MemoryIdempotencyStore(opts.maxEntries)
  const leaseMs = opts.leaseMs ?? 60_000
  const held = new WeakMap<object, Held>()
  app.decorateRequest('idempotencyKey', null)
  app.decorateRequest('idempotencyClaim', null)

  const drop = (request: object): Held | undefined => {
    const h = held.get(request)
    if (h === undefined) return undefined
    held.delete(request)
    clearInterval(h.timer)
    return h
  }

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
    const key = idempotencyKeyOf(owner, header)
    const fingerprint = createHash('sha256')
      .update(`${request.method} ${request.url.split('?')[0]}\n${canonicalJson(request.body ?? null)}`)
      .digest('hex')
    if (opts.available !== undefined && !opts.available()) return sendProblem(request, reply, unavailable())
    let claim
    try {
      claim = await store.claim(key, fingerprint, { leaseMs, ttlMs: opts.ttlMs })
    } catch (err) {
      request.log.warn({ err }, 'idempotency store did not answer the claim')
      return sendProblem(request, reply, unavailable(err))
    }
    switch (claim.kind) {
      case 'mismatch':
        return sendProblem(request, reply, new GatewayError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with a different request; use a new key for a new request'))
      case 'in_flight':
        return sendProblem(request, reply, inUse(claim.retryAfterMs))
      case 'outcome_unknown':
        // 409 without Retry-After: waiting does not change the answer (README, Idempotency).
        return sendProblem(request, reply, new GatewayError('IDEMPOTENCY_OUTCOME_UNKNOWN', 'the gateway instance processing the first request with this Idempotency-Key stopped while its Marketo call was in flight, so its outcome is unknown: read the objects back, then re-send what is missing with a new key'), outcomeUnknownExtras(request.body))
      case 'done': {
        const stored = claim.response
        if ('omitted' in stored) {
          return sendProblem(request, reply, new GatewayError('IDEMPOTENCY_RESPONSE_TOO_LARGE', `the first request with this Idempotency-Key was processed and answered ${stored.statusCode}, but its response was too large to keep for replay: read the objects back instead of re-sending`))
        }
        reply.header('idempotent-replayed', 'true')
        if (stored.retryAfter !== undefined) reply.header('retry-after', stored.retryAfter)
        return reply.code(stored.statusCode).type(stored.contentType).serializer((p: unknown) => p as string).send(stored.body)
      }
      case 'claimed':
      case 'takeover': {
        const token = claim.token
        const timer = setInterval(() => {
          store.renew(key, token, leaseMs).then((ok) => {
            if (!ok) request.log.warn('idempotency claim lost while the request was running (lease expired and taken over)')
          }, (err: Error) => request.log.warn({ err }, 'idempotency lease renewal failed'))
        }, Math.max(1, Math.floor(leaseMs / 3)))
        timer.unref()
        held.set(request, { key, token, timer })
        request.idempotencyKey = key
        // Once recorded, later chunks of the same request need not ask again: with phase calling
        // set, nobody can take the key over.
        let calling: Promise<boolean> | undefined
        request.idempotencyClaim = {
          key,
          token,
          markCalling: () => {
            calling ??= store.markCalling(key, token).then((ok) => {
              if (!ok) calling = undefined
              return ok
            }, (err: unknown) => {
              calling = undefined
              throw err
            })
            return calling
          }
        }
      }
    }
  })

  app.addHook('onSend', async (request, reply, payload) => {
    const h = drop(request)
    if (h === undefined) return payload
    request.idempotencyKey = null
    request.idempotencyClaim = null
    try {
      if (typeof payload !== 'string') {
        await store.release(h.key, h.token)
        return payload
      }
      const retryAfter = reply.getHeader('retry-after')
      const stored = await store.complete(h.key, h.token, {
        statusCode: reply.statusCode,
        contentType: String(reply.getHeader('content-type') ?? 'application/json'),
        retryAfter: retryAfter === undefined ? undefined : String(retryAfter),
        body: payload
      })
      if (stored === 'fenced') request.log.warn('idempotency record not stored: the claim was lost (lease expired and taken over, or the record expired)')
    } catch (err) {
      // The answer still goes out. The record stays in flight until its lease ends; a retry then
      // gets the takeover (nothing was called) or IDEMPOTENCY_OUTCOME_UNKNOWN (a call started).
      request.log.warn({ err }, 'idempotency store did not answer: response not stored for replay')
    }
    return payload
  })

  // A request that ends without a response (client gone before the handler finished) frees its key.
  app.addHook('onResponse', async (request) => {
    const h = drop(request)
    if (h !== undefined) await store.release(h.key, h.token).catch((err: unknown) => request.log.warn({ err }, 'idempotency store did not answer the release'))
  })
}, { name: 'idempotency' })

/**
 * The objects of the request whose outcome is unknown, each with status unknown, so a client can
 * treat this answer like a 502 with unknown results: read them back, re-send what is missing with
 * a new key (README, Idempotency).
 */
function outcomeUnknownExtras (body: unknown): Partial<ProblemBody> {
  const b = body as { opportunities?: unknown[], roles?: unknown[], costs?: unknown[] } | null | undefined
  const items = Array.isArray(b) ? b : b?.opportunities ?? b?.roles ?? b?.costs
  const n = Array.isArray(items) ? items.length : 1
  const results: ObjectResult[] = Array.from({ length: n }, (_, index) => ({ index, id: null, status: 'unknown' }))
  return { summary: { total: n, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0, deleted: 0, unknown: n, notApplied: 0 }, results }
}
