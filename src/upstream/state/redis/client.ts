import { Redis, type RedisOptions } from 'ioredis'

/**
 * The Redis connection behind every piece of state the replicas share (call gate, daily quota,
 * idempotency records). Marketo's limits belong to the subscription, not to a process, so the
 * replicas can only stay inside them together through one store.
 *
 * The options are chosen for a request path with deadlines: Redis is consulted before every
 * Marketo call, so a dead or hung Redis must answer with an error within a fraction of a second
 * (commandTimeout), never hold requests in ioredis' offline queue (enableOfflineQueue false) and
 * never resend a command on reconnect behind the caller's back (maxRetriesPerRequest 0, no
 * auto-resend): the caller decides, with its own deadline, whether to try again. The scripts are
 * written to be safe when run twice anyway (see call-gate.ts, idempotency-store.ts).
 */
export interface RedisClientOptions {
  /** redis://[user[:password]@]host[:port][/db] or rediss://… (TLS). */
  url: string
  /** Overrides any password in the URL (e.g. from a secret file). */
  password?: string
  /** Per-command limit; a hung server rejects after this. Default 500 ms. */
  commandTimeoutMs?: number
  /** TCP + TLS connect limit. Default 1,000 ms. */
  connectTimeoutMs?: number
  /** Shown in CLIENT LIST, to tell the replicas apart. */
  connectionName?: string
  /** Do not connect before the first command (tests, tools). Default false. */
  lazyConnect?: boolean
  /** Connection errors and reconnects; messages never carry the password. */
  onError?: (err: Error, url: string) => void
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 500
export const DEFAULT_CONNECT_TIMEOUT_MS = 1_000

/** Reconnect quickly after a blip, then every 2 s at most while Redis stays away. */
export function reconnectDelayMs (attempt: number): number {
  return Math.min(attempt * 100, 2_000)
}

/**
 * The URL as it may be logged: any password (and user name) replaced by "***". Also used for
 * strings that are not valid URLs, so a malformed REDIS_URL with a secret in it is not logged raw.
 */
export function redactRedisUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    if (u.username !== '') u.username = '***'
    return u.toString()
  } catch {
    return url.replace(/\/\/[^@/]*@/, '//***@')
  }
}

/** The ioredis options for a URL, exported so tests can check the choices without connecting. */
export function redisOptions (opts: RedisClientOptions): RedisOptions {
  const u = new URL(opts.url)
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new Error(`REDIS_URL must be redis:// or rediss:// (got ${redactRedisUrl(opts.url)})`)
  }
  const options: RedisOptions = {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port === '' ? 6379 : Number(u.port),
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    commandTimeout: opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    connectTimeout: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: reconnectDelayMs,
    lazyConnect: opts.lazyConnect ?? false,
    connectionName: opts.connectionName
  }
  if (u.username !== '') options.username = decodeURIComponent(u.username)
  if (u.password !== '') options.password = decodeURIComponent(u.password)
  if (opts.password !== undefined) options.password = opts.password
  if (u.protocol === 'rediss:') options.tls = { servername: options.host }
  if (Number.isNaN(options.db) || Number.isNaN(options.port)) {
    throw new Error(`REDIS_URL has an invalid port or db (${redactRedisUrl(opts.url)})`)
  }
  return options
}

export function createRedisClient (opts: RedisClientOptions): Redis {
  const client = new Redis(redisOptions(opts))
  const safeUrl = redactRedisUrl(opts.url)
  // Without a listener ioredis prints every connection error to stderr itself.
  client.on('error', (err: Error) => opts.onError?.(err, safeUrl))
  return client
}

/** Resolves when the client can run commands, or rejects after timeoutMs (startup checks). */
export async function waitReady (client: Redis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return
  if (client.status === 'wait') client.connect().catch(() => {})
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off('ready', onReady)
      reject(new Error(`Redis not ready within ${timeoutMs} ms`))
    }, timeoutMs)
    const onReady = (): void => {
      clearTimeout(timer)
      resolve()
    }
    client.once('ready', onReady)
  })
}
