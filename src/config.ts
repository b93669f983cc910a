import { Type, type Static } from '@sinclair/typebox'
import { Ajv } from 'ajv'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const BUNDLED_WSDL = fileURLToPath(new URL('./backends/soap/wsdl/mktows-2_3.wsdl', import.meta.url))

const Int = (def: number, min: number, max: number, description: string) =>
  Type.Integer({ default: def, minimum: min, maximum: max, description })

export const AUTH_DISABLED_VALUE = 'i-understand-the-risk'

// The gateway's share of the subscription's limits (100 calls per 20 s, 10 at once). On REST, other
// integrations share them: Marketo's best practice is 50 calls per 20 s and 5 at once for one
// integration (marketo-integration-best-practices.md).
export const LIMIT_DEFAULTS = { soap: { calls: 100, concurrency: 10 }, rest: { calls: 50, concurrency: 5 } } as const

// One schema for the environment: validation, defaults, types and the README's table come from it.
export const EnvSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Interface to listen on (0.0.0.0 in containers)' }),
  PORT: Int(3000, 0, 65535, 'Port to listen on'),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info', description: 'pino log level' }),
  MARKETO_SOAP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://', description: 'Marketo SOAP endpoint, e.g. https://123-ABC-456.mktoapi.com/soap/mktows/2_3. Unset: the embedded simulator is started' })),
  MARKETO_USER_ID: Type.Optional(Type.String({ minLength: 1, description: 'Marketo SOAP user id (required with MARKETO_SOAP_ENDPOINT)' })),
  MARKETO_ENCRYPTION_KEY: Type.Optional(Type.String({ minLength: 1, description: 'Marketo SOAP encryption key (required with MARKETO_SOAP_ENDPOINT); never logged' })),
  MARKETO_BACKEND: Type.Union([Type.Literal('soap'), Type.Literal('rest')], { default: 'soap', description: 'Which Marketo API the gateway calls: soap (syncMObjects, the default) or rest (Sync Opportunities, Sync Opportunity Roles, Update Program); see the README migration section' }),
  MARKETO_REST_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://', description: 'Marketo REST API endpoint as Admin > Web Services shows it, e.g. https://123-ABC-456.mktorest.com/rest (the bare host works too). With MARKETO_BACKEND=rest; unset: the embedded simulator is started' })),
  MARKETO_IDENTITY_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://', description: 'Marketo identity endpoint as Admin > Web Services shows it, e.g. https://123-ABC-456.mktorest.com/identity; default: /identity on the host of MARKETO_REST_ENDPOINT' })),
  MARKETO_CLIENT_ID: Type.Optional(Type.String({ minLength: 1, description: 'Marketo REST (LaunchPoint) client id (required with MARKETO_REST_ENDPOINT)' })),
  MARKETO_CLIENT_SECRET: Type.Optional(Type.String({ minLength: 1, description: 'Marketo REST client secret (required with MARKETO_REST_ENDPOINT); never logged' })),
  MARKETO_REST_EXTERNAL_KEY_FIELD: Type.String({ default: 'opportunityId', pattern: '^[A-Za-z][A-Za-z0-9_]{0,79}$', description: 'On the REST backend, the externalKey name that maps to externalOpportunityId (opportunities and role links); other names answer 400' }),
  MARKETO_WSDL: Type.Optional(Type.String({ minLength: 1, description: 'Path of a local WSDL file; the bundled mktows 2_3 WSDL by default' })),
  MARKETO_CA_FILE: Type.Optional(Type.String({ minLength: 1, description: 'PEM file with extra CA certificates for the Marketo endpoint (TLS verification is always on)' })),
  MARKETO_CALL_TIMEOUT_MS: Int(10_000, 50, 300_000, 'Deadline of one Marketo call: connect, headers and body'),
  MARKETO_MIN_CALL_MS: Type.Optional(Type.Integer({ minimum: 1, maximum: 300_000, description: 'A Marketo call starts only if at least this much of the request deadline is left, so that every call that starts can finish; default and maximum: MARKETO_CALL_TIMEOUT_MS. Requests that cannot start a call in time get 429 with Retry-After, their objects not_applied' })),
  REQUEST_TIMEOUT_MS: Int(30_000, 100, 600_000, 'Deadline of one gateway request, including queueing and retries'),
  MARKETO_MAX_CONCURRENCY: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: `Marketo calls in flight at once from this process; default ${LIMIT_DEFAULTS.soap.concurrency} on SOAP, ${LIMIT_DEFAULTS.rest.concurrency} on REST (Marketo's best practice for one integration: the subscription's 10 are shared)` })),
  MARKETO_MAX_RESPONSE_BYTES: Int(4 * 1024 * 1024, 1024, 256 * 1024 * 1024, 'Largest Marketo answer accepted'),
  BODY_LIMIT_BYTES: Int(1024 * 1024, 1024, 16 * 1024 * 1024, 'Largest request body accepted'),
  MARKETO_RATE_LIMIT_CALLS: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: `Marketo calls allowed per rolling window from this process (0 < n); default ${LIMIT_DEFAULTS.soap.calls} on SOAP, ${LIMIT_DEFAULTS.rest.calls} on REST (Marketo's best practice for one integration: the subscription's 100 per 20 s are shared)` })),
  MARKETO_RATE_LIMIT_WINDOW_MS: Int(20_000, 0, 3_600_000, 'Rolling window of MARKETO_RATE_LIMIT_CALLS; 0 turns the window off'),
  MARKETO_QUEUE_MAX: Int(1_000, 0, 100_000, 'Marketo calls allowed to wait for a slot; beyond it requests get 503 at once'),
  MARKETO_MAX_ATTEMPTS: Int(3, 1, 10, 'Attempts per Marketo call, where a retry is safe'),
  MARKETO_QUOTA_RESET_MS: Int(3_600_000, 1_000, 86_400_000, 'After fault 20015 (daily quota), how long calls fail fast'),
  MARKETO_DAILY_QUOTA: Int(50_000, 1, 100_000_000, 'The Marketo subscription\'s daily API call quota, shared by every replica (Marketo\'s default: 50,000). Only for the quota metrics and alerts: the gateway itself stops only when Marketo answers 20015/607'),
  MARKETO_QUOTA_TIMEZONE: Type.String({ default: 'America/Chicago', minLength: 1, description: 'IANA time zone whose midnight resets the daily quota (Marketo resets it at 12:00 AM US Central time); names the quota day the metrics count in' }),
  BREAKER_FAILURE_THRESHOLD: Int(5, 1, 1_000, 'Consecutive transport failures that open the circuit'),
  BREAKER_OPEN_MS: Int(30_000, 10, 3_600_000, 'How long the circuit stays open before one probe'),
  COALESCE_WINDOW_MS: Int(2, 0, 1_000, 'How long concurrent writes of one type and operation wait to share a Marketo call (a batch also stays open while it waits for a call slot); 0 turns coalescing off'),
  IDEMPOTENCY_TTL_MS: Int(86_400_000, 100, 7 * 86_400_000, 'How long a response is kept for replay under its Idempotency-Key'),
  IDEMPOTENCY_MAX_ENTRIES: Int(100_000, 1, 10_000_000, 'Idempotency records kept in memory (oldest completed ones evicted first)'),
  IDEMPOTENCY_LEASE_MS: Int(60_000, 100, 3_600_000, 'How long an Idempotency-Key claim survives a gateway replica that stopped (renewed every third of it while the request runs); after it, the key is taken over, or answers 409 IDEMPOTENCY_OUTCOME_UNKNOWN if its Marketo call had started'),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'redis:// or rediss:// URL of the Redis shared by every replica (call budget, cool-down, daily quota, Idempotency-Key records, per-key caller limit); unset: all state stays in this process. Never logged with its password' })),
  REDIS_PASSWORD: Type.Optional(Type.String({ minLength: 1, description: 'Redis password, overriding any in REDIS_URL; never logged' })),
  REDIS_KEY_PREFIX: Type.String({ default: 'mkto', pattern: '^[A-Za-z0-9_-]{1,32}$', description: 'Namespace of the shared keys: one per Marketo subscription; every replica of one gateway uses the same' }),
  MARKETO_REPLICAS: Int(1, 1, 100, 'Replicas sharing the Marketo subscription; with REDIS_URL, while Redis is unreachable each replica falls back to its local share (the limits divided by this number)'),
  MARKETO_INTERACTIVE_SHARE: Type.Number({ default: 1, exclusiveMinimum: 0, maximum: 1, description: 'With REDIS_URL: share of the call window and concurrency that interactive requests may use' }),
  API_KEYS: Type.Optional(Type.String({ minLength: 1, description: 'Caller API keys as comma-separated name:sha256hex pairs (hashes only, see docs/security.md); several at once for rotation' })),
  AUTH_DISABLED: Type.Optional(Type.Literal(AUTH_DISABLED_VALUE, { description: `Set to exactly "${AUTH_DISABLED_VALUE}" to run without API keys against a real MARKETO_SOAP_ENDPOINT` })),
  API_KEY_RATE_LIMIT: Int(600, 0, 1_000_000, 'Requests allowed per API key per API_KEY_RATE_WINDOW_MS; 0 turns the per-key limit off'),
  API_KEY_RATE_WINDOW_MS: Int(60_000, 1_000, 3_600_000, 'Window of API_KEY_RATE_LIMIT'),
  DESCRIBE_CACHE_TTL_MS: Int(300_000, 0, 86_400_000, 'How long a describeMObject answer is cached; 0 turns the cache off'),
  VALIDATE_CUSTOM_FIELDS: Type.Optional(Type.Boolean({ description: 'true: opportunity writes (and POST /jobs) naming a custom field that the cached describe (DESCRIBE_CACHE_TTL_MS) does not list answer 400 naming it, before any Marketo write; false: Marketo fails that object alone. Default: true on the REST backend (MARKETO_BACKEND=rest), false on SOAP' })),
  CORS_ORIGINS: Type.Optional(Type.String({ minLength: 1, description: 'Browser origins allowed to call the gateway (CORS), comma-separated exact origins such as https://app.example.com; unset: no CORS headers at all. * (any origin) is refused while API_KEYS are configured' })),
  OTEL_EXPORTER_OTLP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://', description: 'OpenTelemetry: base URL of an OTLP/HTTP receiver (e.g. http://otel-collector:4318); traces go to its /v1/traces. Unset (and no OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): tracing is off and costs nothing' })),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://', description: 'OpenTelemetry: full URL traces are POSTed to (used as is); wins over OTEL_EXPORTER_OTLP_ENDPOINT' })),
  OTEL_EXPORTER_OTLP_PROTOCOL: Type.Optional(Type.Literal('http/json', { description: 'OpenTelemetry: only http/json (OTLP over HTTP, JSON encoded) is sent; any other value stops the start' })),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Type.Optional(Type.Literal('http/json', { description: 'OpenTelemetry: as OTEL_EXPORTER_OTLP_PROTOCOL, for traces' })),
  OTEL_SDK_DISABLED: Type.Optional(Type.String({ description: 'OpenTelemetry: true turns tracing off whatever else is set' })),
  OTEL_TRACES_EXPORTER: Type.Optional(Type.Union([Type.Literal('otlp'), Type.Literal('none')], { description: 'OpenTelemetry: otlp (with an endpoint) or none (tracing off)' })),
  OTEL_SERVICE_NAME: Type.String({ default: 'marketo-mobject-gateway', minLength: 1, description: 'OpenTelemetry: service.name of the spans' }),
  OTEL_RESOURCE_ATTRIBUTES: Type.Optional(Type.String({ description: 'OpenTelemetry: extra resource attributes as key=value pairs, comma-separated (e.g. deployment.environment=prod); OTEL_SERVICE_NAME wins for service.name' })),
  OTEL_TRACES_SAMPLER: Type.Union(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'].map((s) => Type.Literal(s)), { default: 'parentbased_always_on', description: 'OpenTelemetry: which requests are traced; parentbased_*: a caller\'s sampled flag in traceparent decides' }),
  OTEL_TRACES_SAMPLER_ARG: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'OpenTelemetry: the ratio (0 to 1, default 1) of traceidratio and parentbased_traceidratio' })),
  JOB_MAX_OBJECTS: Int(100_000, 1, 1_000_000, 'Most objects in one bulk job (POST /jobs)'),
  JOB_MAX_BODY_BYTES: Int(64 * 1024 * 1024, 1024, 1024 * 1024 * 1024, 'Largest POST /jobs body (JSON or NDJSON, read as a stream for NDJSON); one NDJSON line may be at most BODY_LIMIT_BYTES'),
  JOB_BUDGET_SHARE: Type.Number({ default: 0.5, exclusiveMinimum: 0, maximum: 1, description: 'Share of the Marketo call window and concurrency that bulk jobs may use, across every replica (the rest stays for interactive requests): the shared call gate\'s share of traffic class bulk, counted for every call a job makes' }),
  JOB_RETENTION_MS: Int(7 * 86_400_000, 1_000, 90 * 86_400_000, 'How long a finished job, its results and its Idempotency-Key are kept, then removed'),
  JOB_LOCK_MS: Int(30_000, 1_000, 600_000, 'How long a chunk being sent stays owned by a replica that stopped renewing it (died) before another replica takes it over; keep it above MARKETO_CALL_TIMEOUT_MS'),
  JOB_CHUNK_ATTEMPTS: Int(20, 1, 1_000, 'Attempts per chunk while Marketo or the call budget refuses it before anything is sent (rate, concurrency, circuit open); then the job fails'),
  JOB_WORKER: Type.Boolean({ default: true, description: 'false: this replica accepts and reports jobs but sends none of their chunks' })
})

export type Env = Static<typeof EnvSchema>

export interface Config {
  host: string
  port: number
  logLevel: Env['LOG_LEVEL']
  marketo: {
    backend: 'soap' | 'rest'
    // undefined: the embedded simulator is used
    endpoint?: string
    /** endpoint: the base the /rest/… and /identity/… paths go below (no /rest); identityEndpoint ends in /identity. */
    rest: { endpoint?: string, identityEndpoint?: string, clientId?: string, clientSecret?: string, externalKeyField: string }
    userId?: string
    encryptionKey?: string
    wsdlPath: string
    ca?: Buffer
    callTimeoutMs: number
    /** A call starts only with at least this much of the request deadline left. */
    minCallMs: number
    maxConcurrency: number
    maxResponseBytes: number
    rate: { calls: number, windowMs: number } | null
    maxQueue: number
    maxAttempts: number
    quotaResetMs: number
    /** The daily quota and the time zone of its midnight reset, for the budget metrics. */
    quotaDay: { dailyCalls: number, timeZone: string }
    breaker: { failureThreshold: number, openMs: number }
    /** Replicas sharing the subscription (the local share while Redis is away). */
    replicas: number
    /** Traffic classes and the share of the budget each may use (REDIS_URL only). */
    shares: { interactive: number, bulk: number }
  }
  requestTimeoutMs: number
  idempotency: { ttlMs: number, maxEntries: number, leaseMs: number }
  /** Shared state for several replicas; null: everything in this process. */
  redis: RedisConfig | null
  describe: { cacheTtlMs: number, validateCustomFields: boolean }
  coalesceWindowMs: number
  bodyLimitBytes: number
  auth: AuthConfig
  /** Exact origins allowed by CORS (['*'] for any); null: no CORS headers at all. */
  corsOrigins: string[] | null
  /** OpenTelemetry traces; null: off, and nothing of the SDK is loaded. */
  tracing: TracingConfig | null
  jobs: JobsConfig
}

export type SamplerName = Env['OTEL_TRACES_SAMPLER']

export interface TracingConfig {
  /** Where spans are POSTed (OTLP/HTTP JSON). */
  url: string
  serviceName: string
  resourceAttributes: Record<string, string>
  sampler: { name: SamplerName, ratio: number }
}

export interface JobsConfig {
  maxObjects: number
  maxBodyBytes: number
  budgetShare: number
  retentionMs: number
  lockMs: number
  chunkAttempts: number
  worker: boolean
}

export interface RedisConfig {
  url: string
  password?: string
  prefix: string
}

export interface ApiKeyEntry {
  name: string
  // sha256 of the key: the key itself is never held by the gateway.
  hash: Buffer
}

export interface AuthConfig {
  // Empty with `disabled` false only with the embedded simulator (open, with a warning).
  keys: ApiKeyEntry[]
  disabled: boolean
  rate: { limit: number, windowMs: number } | null
}

export class ConfigError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

const ajv = new Ajv({ coerceTypes: true, useDefaults: true, allErrors: true, strict: false })
const validateEnv = ajv.compile(EnvSchema)

export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  const keys = Object.keys(EnvSchema.properties)
  const raw: Record<string, unknown> = {}
  for (const key of keys) {
    const value = env[key]
    if (value !== undefined && value !== '') raw[key] = value
  }
  if (!validateEnv(raw)) {
    const problems = (validateEnv.errors ?? []).map((e) => `${e.instancePath.slice(1) || 'environment'} ${e.message ?? 'is invalid'}`)
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`)
  }
  const e = raw as Env
  if (env.MARKETO_BULK_SHARE !== undefined && env.MARKETO_BULK_SHARE !== '') {
    // One knob for one share: the gate's bulk class is the jobs' budget.
    throw new ConfigError('invalid configuration: MARKETO_BULK_SHARE is replaced by JOB_BUDGET_SHARE (the share of the call window and concurrency bulk jobs may use)')
  }
  if (e.MARKETO_SOAP_ENDPOINT !== undefined && (e.MARKETO_USER_ID === undefined || e.MARKETO_ENCRYPTION_KEY === undefined)) {
    throw new ConfigError('invalid configuration: MARKETO_USER_ID and MARKETO_ENCRYPTION_KEY are required with MARKETO_SOAP_ENDPOINT')
  }
  if (e.MARKETO_REST_ENDPOINT !== undefined && (e.MARKETO_CLIENT_ID === undefined || e.MARKETO_CLIENT_SECRET === undefined)) {
    throw new ConfigError('invalid configuration: MARKETO_CLIENT_ID and MARKETO_CLIENT_SECRET are required with MARKETO_REST_ENDPOINT')
  }
  const restEndpoint = e.MARKETO_REST_ENDPOINT === undefined ? undefined : restBase(e.MARKETO_REST_ENDPOINT)
  const identityEndpoint = e.MARKETO_IDENTITY_ENDPOINT === undefined ? undefined : identityBase(e.MARKETO_IDENTITY_ENDPOINT)
  const limits = LIMIT_DEFAULTS[e.MARKETO_BACKEND]
  const minCallMs = Math.min(e.MARKETO_MIN_CALL_MS ?? e.MARKETO_CALL_TIMEOUT_MS, e.MARKETO_CALL_TIMEOUT_MS)
  if (e.REQUEST_TIMEOUT_MS < minCallMs) {
    throw new ConfigError(`invalid configuration: REQUEST_TIMEOUT_MS (${e.REQUEST_TIMEOUT_MS}) must leave room for one Marketo call: at least MARKETO_MIN_CALL_MS, which defaults to MARKETO_CALL_TIMEOUT_MS (${minCallMs})`)
  }
  // A chunk whose replica stopped renewing its lock is handed to another replica: by then the
  // dead replica's call must have ended, or two calls of one chunk could be in flight at once.
  if (e.JOB_LOCK_MS <= e.MARKETO_CALL_TIMEOUT_MS) {
    throw new ConfigError(`invalid configuration: JOB_LOCK_MS (${e.JOB_LOCK_MS}) must be above MARKETO_CALL_TIMEOUT_MS (${e.MARKETO_CALL_TIMEOUT_MS})`)
  }
  const wsdlPath = e.MARKETO_WSDL ?? BUNDLED_WSDL
  if (!existsSync(wsdlPath)) throw new ConfigError(`invalid configuration: MARKETO_WSDL file not found: ${wsdlPath}`)
  let ca: Buffer | undefined
  if (e.MARKETO_CA_FILE !== undefined) {
    if (!existsSync(e.MARKETO_CA_FILE)) throw new ConfigError(`invalid configuration: MARKETO_CA_FILE not found: ${e.MARKETO_CA_FILE}`)
    ca = readFileSync(e.MARKETO_CA_FILE)
  }
  try {
    // eslint-disable-next-line no-new
    new Intl.DateTimeFormat('en-US', { timeZone: e.MARKETO_QUOTA_TIMEZONE })
  } catch {
    throw new ConfigError(`invalid configuration: MARKETO_QUOTA_TIMEZONE is not a time zone: ${e.MARKETO_QUOTA_TIMEZONE} (an IANA name such as America/Chicago or UTC)`)
  }
  const auth = parseAuth(e)
  return {
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    marketo: {
      backend: e.MARKETO_BACKEND,
      endpoint: e.MARKETO_SOAP_ENDPOINT,
      rest: { endpoint: restEndpoint, identityEndpoint, clientId: e.MARKETO_CLIENT_ID, clientSecret: e.MARKETO_CLIENT_SECRET, externalKeyField: e.MARKETO_REST_EXTERNAL_KEY_FIELD },
      userId: e.MARKETO_USER_ID,
      encryptionKey: e.MARKETO_ENCRYPTION_KEY,
      wsdlPath,
      ca,
      callTimeoutMs: e.MARKETO_CALL_TIMEOUT_MS,
      minCallMs,
      maxConcurrency: e.MARKETO_MAX_CONCURRENCY ?? limits.concurrency,
      maxResponseBytes: e.MARKETO_MAX_RESPONSE_BYTES,
      rate: e.MARKETO_RATE_LIMIT_WINDOW_MS === 0 ? null : { calls: e.MARKETO_RATE_LIMIT_CALLS ?? limits.calls, windowMs: e.MARKETO_RATE_LIMIT_WINDOW_MS },
      maxQueue: e.MARKETO_QUEUE_MAX,
      maxAttempts: e.MARKETO_MAX_ATTEMPTS,
      quotaResetMs: e.MARKETO_QUOTA_RESET_MS,
      quotaDay: { dailyCalls: e.MARKETO_DAILY_QUOTA, timeZone: e.MARKETO_QUOTA_TIMEZONE },
      breaker: { failureThreshold: e.BREAKER_FAILURE_THRESHOLD, openMs: e.BREAKER_OPEN_MS },
      replicas: e.MARKETO_REPLICAS,
      shares: { interactive: e.MARKETO_INTERACTIVE_SHARE, bulk: e.JOB_BUDGET_SHARE }
    },
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    idempotency: { ttlMs: e.IDEMPOTENCY_TTL_MS, maxEntries: e.IDEMPOTENCY_MAX_ENTRIES, leaseMs: e.IDEMPOTENCY_LEASE_MS },
    redis: e.REDIS_URL === undefined ? null : { url: e.REDIS_URL, password: e.REDIS_PASSWORD, prefix: e.REDIS_KEY_PREFIX },
    // REST reads use the describe anyway, and a REST 1006 fails the record: check before writing by default.
    describe: { cacheTtlMs: e.DESCRIBE_CACHE_TTL_MS, validateCustomFields: e.VALIDATE_CUSTOM_FIELDS ?? e.MARKETO_BACKEND === 'rest' },
    coalesceWindowMs: e.COALESCE_WINDOW_MS,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    auth,
    corsOrigins: parseCorsOrigins(e.CORS_ORIGINS, auth),
    tracing: parseTracing(e),
    jobs: {
      maxObjects: e.JOB_MAX_OBJECTS,
      maxBodyBytes: e.JOB_MAX_BODY_BYTES,
      budgetShare: e.JOB_BUDGET_SHARE,
      retentionMs: e.JOB_RETENTION_MS,
      lockMs: e.JOB_LOCK_MS,
      chunkAttempts: e.JOB_CHUNK_ATTEMPTS,
      worker: e.JOB_WORKER
    }
  }
}

// The standard OpenTelemetry variables; tracing is on only with an endpoint. The exporter itself
// also reads OTEL_EXPORTER_OTLP_(TRACES_)HEADERS / _TIMEOUT / _COMPRESSION and the batch processor
// OTEL_BSP_* from the environment (README, Tracing).
function parseTracing (e: Env): TracingConfig | null {
  if (e.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true' || e.OTEL_TRACES_EXPORTER === 'none') return null
  let url = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  if (url === undefined && e.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined) url = e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/*$/, '/v1/traces')
  if (url === undefined) return null
  try {
    // eslint-disable-next-line no-new
    new URL(url)
  } catch {
    throw new ConfigError('invalid configuration: OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is not a URL')
  }
  const resourceAttributes: Record<string, string> = {}
  for (const pair of (e.OTEL_RESOURCE_ATTRIBUTES ?? '').split(',')) {
    const eq = pair.indexOf('=')
    if (pair.trim() === '') continue
    let key = ''
    let value = ''
    try {
      key = decodeURIComponent(pair.slice(0, eq < 0 ? 0 : eq).trim())
      value = decodeURIComponent(pair.slice(eq + 1).trim())
    } catch {}
    if (eq < 1 || key === '') throw new ConfigError('invalid configuration: OTEL_RESOURCE_ATTRIBUTES is not key=value pairs separated by commas')
    resourceAttributes[key] = value
  }
  return { url, serviceName: e.OTEL_SERVICE_NAME, resourceAttributes, sampler: { name: e.OTEL_TRACES_SAMPLER, ratio: e.OTEL_TRACES_SAMPLER_ARG ?? 1 } }
}

// Admin > Web Services shows the REST endpoint ending in /rest and the identity endpoint ending in
// /identity; the gateway appends /rest/v1/… and /identity/oauth/token itself, so it keeps the base
// without them (and never doubles a slash, which Marketo's gateway is deprecating).
function endpointUrl (name: string, value: string): URL {
  let url: URL
  try { url = new URL(value) } catch { throw new ConfigError(`invalid configuration: ${name} is not a URL`) }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new ConfigError(`invalid configuration: ${name} must be a plain https URL without query, fragment or credentials`)
  }
  return url
}

export function restBase (value: string): string {
  const url = endpointUrl('MARKETO_REST_ENDPOINT', value)
  const path = url.pathname.replace(/\/+$/, '').replace(/\/rest$/, '')
  if (/\/(rest|identity)(\/|$)/.test(path) || url.pathname.replace(/\/+$/, '').includes('//')) {
    throw new ConfigError(`invalid configuration: MARKETO_REST_ENDPOINT must be the REST API endpoint of Admin > Web Services, e.g. https://123-ABC-456.mktorest.com/rest, not a path below it (${url.pathname})`)
  }
  return url.origin + path
}

export function identityBase (value: string): string {
  const url = endpointUrl('MARKETO_IDENTITY_ENDPOINT', value)
  const path = url.pathname.replace(/\/+$/, '').replace(/\/oauth\/token$/, '')
  if (url.pathname.replace(/\/+$/, '').includes('//')) throw new ConfigError('invalid configuration: MARKETO_IDENTITY_ENDPOINT has an empty path segment')
  // A bare host means Marketo's own /identity on it.
  return url.origin + (path === '' ? '/identity' : path)
}

// An origin is scheme://host[:port], exactly as a browser sends it in the Origin header: no path,
// no trailing slash, no default port, lower-case host.
function parseCorsOrigins (value: string | undefined, auth: AuthConfig): string[] | null {
  if (value === undefined) return null
  const origins = value.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (origins.length === 0) return null
  if (origins.includes('*')) {
    if (origins.length > 1) throw new ConfigError('invalid configuration: CORS_ORIGINS is either * alone or a list of exact origins')
    if (auth.keys.length > 0) throw new ConfigError('invalid configuration: CORS_ORIGINS=* (any origin) is refused while API_KEYS are configured; list the exact origins of the web apps')
    return ['*']
  }
  for (const origin of origins) {
    let exact: string | undefined
    try {
      const url = new URL(origin)
      // A plain host name or IP literal: no wildcard (`*.example.com` is a valid URL host).
      if ((url.protocol === 'http:' || url.protocol === 'https:') && /^([a-z0-9-]+\.)*[a-z0-9-]+$|^\[[0-9a-f:.]+\]$/.test(url.hostname)) exact = url.origin
    } catch {}
    if (exact !== origin) throw new ConfigError(`invalid configuration: CORS_ORIGINS entry "${origin}" is not an exact origin such as https://app.example.com (scheme, host and optional port; no path, no trailing slash)`)
  }
  return [...new Set(origins)]
}

const KEY_NAME = /^[A-Za-z0-9._-]{1,64}$/
const KEY_HASH = /^[0-9a-fA-F]{64}$/

function parseAuth (e: Env): AuthConfig {
  const keys: ApiKeyEntry[] = []
  for (const item of (e.API_KEYS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const sep = item.indexOf(':')
    const name = sep < 0 ? '' : item.slice(0, sep)
    const hash = sep < 0 ? '' : item.slice(sep + 1)
    // The message never echoes the entry: it may be a raw key pasted by mistake.
    if (!KEY_NAME.test(name) || !KEY_HASH.test(hash)) {
      throw new ConfigError(`invalid configuration: API_KEYS entry ${keys.length + 1} is not name:sha256hex (the name 1-64 of A-Z a-z 0-9 . _ -, the hash 64 hex digits)`)
    }
    if (keys.some((k) => k.name === name)) throw new ConfigError(`invalid configuration: API_KEYS names the key "${name}" twice`)
    const digest = Buffer.from(hash, 'hex')
    if (keys.some((k) => k.hash.equals(digest))) throw new ConfigError(`invalid configuration: API_KEYS key "${name}" has the same hash as another key`)
    keys.push({ name, hash: digest })
  }
  const disabled = e.AUTH_DISABLED === AUTH_DISABLED_VALUE
  if (disabled && keys.length > 0) {
    throw new ConfigError('invalid configuration: API_KEYS and AUTH_DISABLED are both set; remove one of them')
  }
  const realMarketo = e.MARKETO_BACKEND === 'rest' ? e.MARKETO_REST_ENDPOINT !== undefined : e.MARKETO_SOAP_ENDPOINT !== undefined
  if (realMarketo && keys.length === 0 && !disabled) {
    throw new ConfigError(`invalid configuration: no API_KEYS configured for a real MARKETO_SOAP_ENDPOINT; configure API_KEYS, or set AUTH_DISABLED=${AUTH_DISABLED_VALUE} to run without caller authentication (docs/security.md)`)
  }
  const rate = e.API_KEY_RATE_LIMIT === 0 ? null : { limit: e.API_KEY_RATE_LIMIT, windowMs: e.API_KEY_RATE_WINDOW_MS }
  return { keys, disabled, rate }
}
