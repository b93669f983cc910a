import fp from 'fastify-plugin'
import rateLimit from '@fastify/rate-limit'
import type { Redis } from 'ioredis'
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { ApiKeyEntry, AuthConfig } from '../../config.js'
import { GatewayError } from '../../domain/errors.js'

declare module 'fastify' {
  interface FastifyRequest {
    // The name of the caller's API key (never the key); 'anonymous' when auth is off.
    apiKeyName: string | null
  }
}

export interface AuthPluginOptions {
  auth: AuthConfig
  // True when the gateway runs against its embedded simulator.
  embeddedSimulator: boolean
  /**
   * With REDIS_URL: the per-key limit counted in Redis for every replica together
   * (@fastify/rate-limit's Redis store). It fails open: while Redis is unavailable, requests are
   * not limited per key (the Marketo budget still protects Marketo).
   */
  shared?: { redis: Redis, prefix: string, available: () => boolean }
}

export const ANONYMOUS = 'anonymous'

// Operational endpoints stay open for probes and documentation readers.
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/openapi.json', '/openapi-3.0.json', '/metrics'])

export function isOpenPath (url: string): boolean {
  const q = url.indexOf('?')
  const path = q < 0 ? url : url.slice(0, q)
  return OPEN_PATHS.has(path) || path === '/docs' || path.startsWith('/docs/')
}

// RFC 6750 scheme, case-insensitive; the token is visible ASCII only.
const BEARER = /^bearer +([\x21-\x7e]{1,512})$/i
const REQUEST_ID_MAX = 128
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

export function sha256 (key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

/**
 * The name of the key whose hash matches, or null. Every configured hash is compared, with
 * timingSafeEqual on two 32-byte digests, so neither a key's length nor its position in the
 * list shows in the timing.
 */
export function matchKey (presented: string, keys: readonly ApiKeyEntry[]): string | null {
  const digest = sha256(presented)
  let found: string | null = null
  for (const k of keys) {
    if (timingSafeEqual(digest, k.hash) && found === null) found = k.name
  }
  return found
}

export function bearerToken (header: string | undefined): string | null {
  if (header === undefined) return null
  const m = BEARER.exec(header)
  return m === null ? null : m[1]
}

/** Fixed-window counter per key name; memory is bounded by the configured keys. */
export class KeyRateLimiter {
  private readonly windows = new Map<string, { start: number, count: number }>()
  constructor (private readonly limit: number, private readonly windowMs: number, private readonly now: () => number = Date.now) {}

  /** 0 when allowed, otherwise the milliseconds until the key's window resets. */
  take (name: string): number {
    const t = this.now()
    let w = this.windows.get(name)
    if (w === undefined || t - w.start >= this.windowMs) {
      w = { start: t, count: 0 }
      this.windows.set(name, w)
    }
    if (w.count >= this.limit) return Math.max(1, w.start + this.windowMs - t)
    w.count++
    return 0
  }
}

/**
 * How many header lines named `name` (lower case) the request carried. Node joins repeated
 * x-request-id lines into one "a, b" value in `headers`, so only `rawHeaders` shows a repeat.
 * (genReqId in app.ts never keeps such a joined value: ", " is outside its pattern.)
 */
function headerLines (rawHeaders: readonly string[], name: string): number {
  let n = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].length === name.length && rawHeaders[i].toLowerCase() === name) n++
  }
  return n
}

function checkRequestId (request: FastifyRequest): void {
  const given = request.headers['x-request-id']
  if (given === undefined) return
  const values = Array.isArray(given) ? given : [given]
  if (values.length > 1 || headerLines(request.raw.rawHeaders, 'x-request-id') > 1 || values.some((v) => v.length > REQUEST_ID_MAX || CONTROL.test(v))) {
    // The id used in logs and in the answer is a fresh one (see genReqId in app.ts).
    throw new GatewayError('INVALID_HEADER', `x-request-id must be one value of at most ${REQUEST_ID_MAX} characters without control characters`)
  }
}

export default fp<AuthPluginOptions>(async function authPlugin (app, { auth, embeddedSimulator, shared }) {
  app.decorateRequest('apiKeyName', null)
  const open = auth.disabled || auth.keys.length === 0
  if (auth.disabled) {
    app.log.warn('AUTH_DISABLED is set: caller authentication is off; any caller can write to Marketo')
  } else if (open && embeddedSimulator) {
    app.log.warn('no API_KEYS configured: caller authentication is off (allowed with the embedded simulator only)')
  } else if (open) {
    // loadConfig refuses this; a second guard in case a Config is built by hand.
    throw new Error('no API_KEYS configured for a real Marketo endpoint')
  } else {
    app.log.info({ keys: auth.keys.map((k) => k.name) }, 'caller authentication on')
  }
  const limiter = auth.rate === null || open || shared !== undefined ? null : new KeyRateLimiter(auth.rate.limit, auth.rate.windowMs)
  if (auth.rate !== null && !open && shared !== undefined) {
    const rate = auth.rate
    // Route-level onRequest hooks run after this plugin's global one: apiKeyName is set by then.
    await app.register(rateLimit, {
      global: true,
      max: rate.limit,
      timeWindow: rate.windowMs,
      redis: shared.redis,
      nameSpace: `${shared.prefix}:caller:`,
      keyGenerator: (request) => request.apiKeyName ?? '',
      // Open paths carry no key; a Redis known to be away is not waited for (fail open).
      allowList: (request) => request.apiKeyName === null || !shared.available(),
      skipOnError: true,
      addHeadersOnExceeding: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false },
      addHeaders: { 'x-ratelimit-limit': false, 'x-ratelimit-remaining': false, 'x-ratelimit-reset': false, 'retry-after': false },
      errorResponseBuilder: (request, context) => new GatewayError('RATE_LIMITED', `the rate limit of API key "${request.apiKeyName ?? ''}" is reached`, { retryAfterMs: Math.max(1, context.ttl) })
    })
  }

  // onRequest runs before the body is read, so an unauthenticated caller costs no parsing.
  app.addHook('onRequest', async (request) => {
    checkRequestId(request)
    if (isOpenPath(request.url)) return
    if (open) {
      request.apiKeyName = ANONYMOUS
      return
    }
    // Keys are read from the Authorization header only, never from the query string.
    const token = bearerToken(request.headers.authorization)
    const name = token === null ? null : matchKey(token, auth.keys)
    if (name === null) {
      throw new GatewayError('UNAUTHORIZED', token === null ? 'send an API key as a Bearer token' : 'the API key is not valid')
    }
    request.apiKeyName = name
    request.log.trace({ apiKey: name }, 'caller authenticated')
    if (limiter !== null) {
      const waitMs = limiter.take(name)
      if (waitMs > 0) throw new GatewayError('RATE_LIMITED', `the rate limit of API key "${name}" is reached`, { retryAfterMs: waitMs })
    }
  })
}, { name: 'auth' })
