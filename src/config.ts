import { Type, type Static } from '@sinclair/typebox'
import { Ajv } from 'ajv'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const BUNDLED_WSDL = fileURLToPath(new URL('./marketo/wsdl/mktows-2_3.wsdl', import.meta.url))

const Int = (def: number, min: number, max: number, description: string) =>
  Type.Integer({ default: def, minimum: min, maximum: max, description })

// One schema for the environment: validation, defaults, types and the README's table come from it.
export const EnvSchema = Type.Object({
  HOST: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Interface to listen on (0.0.0.0 in containers)' }),
  PORT: Int(3000, 0, 65535, 'Port to listen on'),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info', description: 'pino log level' }),
  MARKETO_SOAP_ENDPOINT: Type.Optional(Type.String({ pattern: '^https?://', description: 'Marketo SOAP endpoint, e.g. https://123-ABC-456.mktoapi.com/soap/mktows/2_3. Unset: the embedded simulator is started' })),
  MARKETO_USER_ID: Type.Optional(Type.String({ minLength: 1, description: 'Marketo SOAP user id (required with MARKETO_SOAP_ENDPOINT)' })),
  MARKETO_ENCRYPTION_KEY: Type.Optional(Type.String({ minLength: 1, description: 'Marketo SOAP encryption key (required with MARKETO_SOAP_ENDPOINT); never logged' })),
  MARKETO_WSDL: Type.Optional(Type.String({ minLength: 1, description: 'Path of a local WSDL file; the bundled mktows 2_3 WSDL by default' })),
  MARKETO_CA_FILE: Type.Optional(Type.String({ minLength: 1, description: 'PEM file with extra CA certificates for the Marketo endpoint (TLS verification is always on)' })),
  MARKETO_CALL_TIMEOUT_MS: Int(10_000, 50, 300_000, 'Deadline of one Marketo call: connect, headers and body'),
  REQUEST_TIMEOUT_MS: Int(30_000, 100, 600_000, 'Deadline of one gateway request, including queueing and retries'),
  MARKETO_MAX_CONCURRENCY: Int(10, 1, 100, 'Marketo calls in flight at once from this process'),
  MARKETO_MAX_RESPONSE_BYTES: Int(4 * 1024 * 1024, 1024, 256 * 1024 * 1024, 'Largest Marketo answer accepted'),
  BODY_LIMIT_BYTES: Int(1024 * 1024, 1024, 16 * 1024 * 1024, 'Largest request body accepted'),
  MARKETO_RATE_LIMIT_CALLS: Int(100, 1, 100_000, 'Marketo calls allowed per rolling window from this process (0 < n)'),
  MARKETO_RATE_LIMIT_WINDOW_MS: Int(20_000, 0, 3_600_000, 'Rolling window of MARKETO_RATE_LIMIT_CALLS; 0 turns the window off'),
  MARKETO_QUEUE_MAX: Int(1_000, 0, 100_000, 'Marketo calls allowed to wait for a slot; beyond it requests get 503 at once'),
  MARKETO_MAX_ATTEMPTS: Int(3, 1, 10, 'Attempts per Marketo call, where a retry is safe'),
  MARKETO_QUOTA_RESET_MS: Int(3_600_000, 1_000, 86_400_000, 'After fault 20015 (daily quota), how long calls fail fast'),
  BREAKER_FAILURE_THRESHOLD: Int(5, 1, 1_000, 'Consecutive transport failures that open the circuit'),
  BREAKER_OPEN_MS: Int(30_000, 10, 3_600_000, 'How long the circuit stays open before one probe')
})

export type Env = Static<typeof EnvSchema>

export interface Config {
  host: string
  port: number
  logLevel: Env['LOG_LEVEL']
  marketo: {
    // undefined: the embedded simulator is used
    endpoint?: string
    userId?: string
    encryptionKey?: string
    wsdlPath: string
    ca?: Buffer
    callTimeoutMs: number
    maxConcurrency: number
    maxResponseBytes: number
    rate: { calls: number, windowMs: number } | null
    maxQueue: number
    maxAttempts: number
    quotaResetMs: number
    breaker: { failureThreshold: number, openMs: number }
  }
  requestTimeoutMs: number
  bodyLimitBytes: number
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
  if (e.MARKETO_SOAP_ENDPOINT !== undefined && (e.MARKETO_USER_ID === undefined || e.MARKETO_ENCRYPTION_KEY === undefined)) {
    throw new ConfigError('invalid configuration: MARKETO_USER_ID and MARKETO_ENCRYPTION_KEY are required with MARKETO_SOAP_ENDPOINT')
  }
  const wsdlPath = e.MARKETO_WSDL ?? BUNDLED_WSDL
  if (!existsSync(wsdlPath)) throw new ConfigError(`invalid configuration: MARKETO_WSDL file not found: ${wsdlPath}`)
  let ca: Buffer | undefined
  if (e.MARKETO_CA_FILE !== undefined) {
    if (!existsSync(e.MARKETO_CA_FILE)) throw new ConfigError(`invalid configuration: MARKETO_CA_FILE not found: ${e.MARKETO_CA_FILE}`)
    ca = readFileSync(e.MARKETO_CA_FILE)
  }
  return {
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    marketo: {
      endpoint: e.MARKETO_SOAP_ENDPOINT,
      userId: e.MARKETO_USER_ID,
      encryptionKey: e.MARKETO_ENCRYPTION_KEY,
      wsdlPath,
      ca,
      callTimeoutMs: e.MARKETO_CALL_TIMEOUT_MS,
      maxConcurrency: e.MARKETO_MAX_CONCURRENCY,
      maxResponseBytes: e.MARKETO_MAX_RESPONSE_BYTES,
      rate: e.MARKETO_RATE_LIMIT_WINDOW_MS === 0 ? null : { calls: e.MARKETO_RATE_LIMIT_CALLS, windowMs: e.MARKETO_RATE_LIMIT_WINDOW_MS },
      maxQueue: e.MARKETO_QUEUE_MAX,
      maxAttempts: e.MARKETO_MAX_ATTEMPTS,
      quotaResetMs: e.MARKETO_QUOTA_RESET_MS,
      breaker: { failureThreshold: e.BREAKER_FAILURE_THRESHOLD, openMs: e.BREAKER_OPEN_MS }
    },
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    bodyLimitBytes: e.BODY_LIMIT_BYTES
  }
}
