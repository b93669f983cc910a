import fp from 'fastify-plugin'
import cors from '@fastify/cors'

export interface CorsPluginOptions {
  /** Exact origins (from CORS_ORIGINS), or ['*'] for any; null: the plugin adds nothing. */
  origins: string[] | null
}

/** Request headers a browser app sends to the gateway (the preflight allows exactly these). */
export const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'idempotency-key', 'x-request-id']
/** Response headers a browser app may read besides the CORS-safelisted ones. */
export const CORS_EXPOSED_HEADERS = ['x-request-id', 'Retry-After', 'Idempotent-Replayed', 'Location']
export const CORS_METHODS = ['GET', 'POST', 'PATCH', 'DELETE']
const PREFLIGHT_MAX_AGE_S = 600

/**
 * CORS for browser callers (issue #17). Registered before the auth plugin: @fastify/cors answers a
 * preflight in its own onRequest hook, before the auth hook could 401 it (a browser never sends
 * Authorization on a preflight). An origin that is not listed gets no CORS header at all (only
 * `Vary: Origin`), so the browser blocks the call; without CORS_ORIGINS nothing is registered.
 */
export default fp<CorsPluginOptions>(async function corsPlugin (app, { origins }) {
  if (origins === null) return
  const any = origins.length === 1 && origins[0] === '*'
  const allowed = new Set(origins)
  await app.register(cors, {
    // A function, not the list itself: with a list, @fastify/cors still sends the other CORS
    // headers (and answers the preflight) for an origin that is not on it.
    origin: (origin, cb) => { cb(null, origin !== undefined && (any || allowed.has(origin)) ? (any ? '*' : origin) : false) },
    methods: CORS_METHODS,
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    // Keys travel in the Authorization header, set by the app: no cookies, no credentials mode.
    credentials: false,
    maxAge: PREFLIGHT_MAX_AGE_S,
    strictPreflight: true,
    hideOptionsRoute: true
  })
}, { name: 'cors' })
