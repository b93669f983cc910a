// Every error the gateway raises, with a stable code and its HTTP status (CONTRACT.md §5).
// Upstream trouble is never the caller's 4xx: timeouts 504, unreachable 503, faults 502,
// Marketo's own limits 429/503 with Retry-After.

export const ErrorCodes = {
  VALIDATION_FAILED: { status: 400, title: 'Request validation failed' },
  MALFORMED_JSON: { status: 400, title: 'Malformed JSON body' },
  INVALID_HEADER: { status: 400, title: 'Invalid request header' },
  UNAUTHORIZED: { status: 401, title: 'Missing or invalid API key' },
  NOT_FOUND: { status: 404, title: 'Not found' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed' },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, title: 'A request with this Idempotency-Key is in progress' },
  IDEMPOTENCY_OUTCOME_UNKNOWN: { status: 409, title: 'Outcome of the first request with this Idempotency-Key is unknown' },
  IDEMPOTENCY_RESPONSE_TOO_LARGE: { status: 409, title: 'The stored response for this Idempotency-Key is not available' },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'Request body too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  JOB_FINISHED: { status: 409, title: 'The job has already finished' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: 'Idempotency-Key reused with a different request' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  UPSTREAM_RATE_LIMITED: { status: 429, title: 'Marketo rate limit reached' },
  UPSTREAM_QUOTA_EXCEEDED: { status: 429, title: 'Marketo daily quota exceeded' },
  UPSTREAM_CONCURRENCY_LIMITED: { status: 503, title: 'Marketo concurrency limit reached' },
  QUEUE_FULL: { status: 503, title: 'Gateway queue full' },
  UPSTREAM_UNAVAILABLE: { status: 503, title: 'Marketo is unreachable' },
  UPSTREAM_CIRCUIT_OPEN: { status: 503, title: 'Marketo calls suspended after repeated failures' },
  JOBS_NOT_CONFIGURED: { status: 503, title: 'Bulk jobs are not configured' },
  JOBS_UNAVAILABLE: { status: 503, title: 'The job store (Redis) is unavailable' },
  SHUTTING_DOWN: { status: 503, title: 'Gateway is shutting down' },
  IDEMPOTENCY_UNAVAILABLE: { status: 503, title: 'The shared Idempotency-Key store is unavailable' },
  UPSTREAM_TIMEOUT: { status: 504, title: 'Marketo did not answer in time' },
  UPSTREAM_AUTH: { status: 502, title: 'Marketo rejected the gateway credentials' },
  UPSTREAM_CLOCK_SKEW: { status: 502, title: 'Marketo rejected the request timestamp' },
  UPSTREAM_REJECTED: { status: 502, title: 'Marketo rejected the request' },
  UPSTREAM_INTERNAL: { status: 502, title: 'Marketo reported an internal error' },
  UPSTREAM_PROTOCOL_ERROR: { status: 502, title: 'Marketo sent an answer the gateway cannot trust' },
  UPSTREAM_CONNECTION_LOST: { status: 502, title: 'Connection to Marketo lost after the request was sent' },
  INTERNAL: { status: 500, title: 'Internal error' },
  BACKEND_UNSUPPORTED: { status: 501, title: 'Not supported by the configured Marketo backend' }
} as const

export type ErrorCode = keyof typeof ErrorCodes

export interface FieldError {
  path: string
  message: string
}

export interface GatewayErrorOptions {
  cause?: unknown
  upstreamCode?: number
  retryAfterMs?: number
  errors?: FieldError[]
  // For upstream failures: whether bytes of the call reached Marketo (so its outcome is unknown).
  sent?: boolean
  // For upstream failures, set by the backend that classified them: the call was not applied and
  // may be re-sent (`transient`: after a backoff; `resign`: once, signed with a fresh timestamp;
  // `reauth`: once, with fresh credentials, at once).
  retry?: RetryClass
  // Marketo's id of the answer (REST `requestId`), which Marketo Support asks for: logged with the failure.
  upstreamRequestId?: string
}

export type RetryClass = 'transient' | 'resign' | 'reauth'

export class GatewayError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  readonly title: string
  readonly upstreamCode?: number
  readonly retryAfterMs?: number
  readonly errors?: FieldError[]
  readonly sent: boolean
  readonly retry?: RetryClass
  readonly upstreamRequestId?: string

  constructor (code: ErrorCode, detail: string, options: GatewayErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'GatewayError'
    this.code = code
    this.statusCode = ErrorCodes[code].status
    this.title = ErrorCodes[code].title
    this.upstreamCode = options.upstreamCode
    this.retryAfterMs = options.retryAfterMs
    this.errors = options.errors
    this.sent = options.sent ?? false
    this.retry = options.retry
    this.upstreamRequestId = options.upstreamRequestId
  }
}

export function isGatewayError (err: unknown): err is GatewayError {
  return err instanceof GatewayError
}
