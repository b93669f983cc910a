import { GatewayError } from '../../domain/errors.js'
import { TransportError } from '../../upstream/transport.js'
import { classifyTransport } from '../../upstream/errors.js'
import type { BoundedResponse } from '../../upstream/transport.js'

// REST answers become the same GatewayError codes as their SOAP twins (src/backends/soap/faults.ts),
// keyed on codes, never on message texts. A response-level 6xx/7xx error means Marketo did not
// execute the request (error-codes.md), so it is not `sent`; 500 and 502 ("likely a timeout") and
// 614 ("temporary inaccessibility") may follow a write that happened, so their outcome is unknown
// (CONTRACT.md §6). Marketo's requestId goes into the detail and the log: Support asks for it.

export interface RestEnvelope {
  requestId?: string
  success: boolean
  errors?: Array<{ code: string | number, message?: string }>
  warnings?: unknown[]
  result?: unknown[]
}

/** Token errors: the client refreshes its token once and resends. */
export const TOKEN_ERRORS = new Set([601, 602])

export interface RestErrorOptions {
  quotaRetryAfterMs?: number
  /** Marketo's requestId of the answer. */
  requestId?: string
}

export function restError (code: number, message: string, opts: RestErrorOptions = {}): GatewayError {
  const requestId = typeof opts.requestId === 'string' && opts.requestId !== '' ? opts.requestId.slice(0, 64) : undefined
  const base = { upstreamCode: code, sent: false, upstreamRequestId: requestId }
  const text = `${code}: ${message.slice(0, 200)}${requestId === undefined ? '' : `; Marketo requestId ${requestId}`}`
  switch (code) {
    case 601:
    case 602:
      // The token expired or was revoked: nothing was applied; a fresh token is fetched and the call re-sent once.
      return new GatewayError('UPSTREAM_AUTH', `Marketo refused the gateway's access token (${text})`, { ...base, retry: 'reauth' })
    case 603:
      return new GatewayError('UPSTREAM_AUTH', `Marketo refused the gateway's permissions (${text})`, base)
    case 606:
      return new GatewayError('UPSTREAM_RATE_LIMITED', `Marketo rate limit reached (${text})`, { ...base, retryAfterMs: 20_000, retry: 'transient' })
    case 607:
      return new GatewayError('UPSTREAM_QUOTA_EXCEEDED', `Marketo daily API quota exceeded (${text})`, { ...base, retryAfterMs: opts.quotaRetryAfterMs ?? 60 * 60_000 })
    case 615:
      return new GatewayError('UPSTREAM_CONCURRENCY_LIMITED', `Marketo concurrency limit reached (${text})`, { ...base, retryAfterMs: 1_000, retry: 'transient' })
    case 604:
    case 608:
    case 611:
    case 713:
      return new GatewayError('UPSTREAM_INTERNAL', `Marketo reported an internal error (${text})`, { ...base, retry: 'transient' })
    case 500:
    case 502:
    case 614:
      // The write may have been applied: `unknown`, re-sent only when repeating it is harmless, never split.
      return new GatewayError('UPSTREAM_INTERNAL', `Marketo reported an error after the call may have been applied (${text}): the outcome is unknown`, { ...base, sent: true, retry: 'transient' })
    case 610:
      // "The URI in the call did not match a REST API resource type": the gateway's configuration, not the data.
      return new GatewayError('UPSTREAM_REJECTED', `Marketo has no such REST resource (${text}): check MARKETO_REST_ENDPOINT, the REST API endpoint of Admin > Web Services (https://<munchkin id>.mktorest.com/rest)`, base)
    case 702:
      // "No data found for a given search scenario": the same "not found" on reads and writes.
      return new GatewayError('NOT_FOUND', `Marketo found nothing for the request (${text})`, base)
    default:
      // 605, 609, 612, 7xx, and record codes (1003, 1004, 1005, 718) at request level.
      return new GatewayError('UPSTREAM_REJECTED', `Marketo rejected the request (${text})`, base)
  }
}

/** The GatewayError of a `success: false` envelope, with its requestId. */
export function envelopeError (env: RestEnvelope, opts: RestErrorOptions = {}): GatewayError {
  const e = firstError(env)
  return restError(e.code, e.message, { ...opts, requestId: env.requestId })
}

/** The JSON envelope of a REST answer, or a thrown TransportError / GatewayError. */
export function readEnvelope (res: Pick<BoundedResponse, 'status' | 'contentType' | 'text'>): RestEnvelope {
  const isJson = /\bjson\b/i.test(res.contentType)
  if (res.status === 413 || res.status === 414) {
    // Refused before anything was applied: the caller's batch has to be split.
    throw new GatewayError('UPSTREAM_REJECTED', res.status === 413
      ? 'Marketo refused the request body as too large (HTTP 413; the REST limit is 1 MB per call)'
      : 'Marketo refused the request URI as too long (HTTP 414; the REST limit is 8 KB)', { upstreamCode: res.status, sent: false })
  }
  if (res.status !== 200 || !isJson) {
    const sent = !(res.status >= 400 && res.status < 500)
    throw new TransportError(isJson ? 'http_status' : 'bad_content', `unexpected HTTP ${res.status} ${res.contentType || 'without content type'}`, { sent, httpStatus: res.status })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(res.text)
  } catch (err) {
    throw new TransportError('bad_content', 'response is not valid JSON', { sent: true, httpStatus: res.status, cause: err })
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as RestEnvelope).success !== 'boolean') {
    throw new TransportError('bad_content', 'response is not a Marketo REST envelope', { sent: true, httpStatus: res.status })
  }
  const env = parsed as RestEnvelope
  if (env.errors !== undefined && !Array.isArray(env.errors)) throw new TransportError('bad_content', 'errors is not an array', { sent: true, httpStatus: res.status })
  if (env.result !== undefined && env.result !== null && !Array.isArray(env.result)) throw new TransportError('bad_content', 'result is not an array', { sent: true, httpStatus: res.status })
  return env
}

/** The first response-level error of a `success: false` envelope. */
export function firstError (env: RestEnvelope): { code: number, message: string } {
  const e = env.errors?.[0]
  const code = Number(e?.code)
  return { code: Number.isInteger(code) ? code : 0, message: typeof e?.message === 'string' ? e.message : 'no message' }
}

/** The REST backend's classification: its own GatewayErrors as thrown, transport trouble as everywhere. */
export function classifyRestError (err: unknown): GatewayError {
  return classifyTransport(err)
}

/** How every 400 for what the REST API cannot express begins. */
export const REST_UNSUPPORTED = 'not supported by the REST backend (MARKETO_BACKEND=rest)'
