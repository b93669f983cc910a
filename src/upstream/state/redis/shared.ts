import type { Redis } from 'ioredis'
import { createRedisClient, redactRedisUrl, waitReady } from './client.js'
import { RedisHealth } from './health.js'

export interface SharedRedisConfig {
  url: string
  password?: string
  prefix: string
}

interface Log {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

/** The one Redis connection of a replica and what is known about its health. */
export interface SharedRedis {
  client: Redis
  health: RedisHealth
  prefix: string
  /** The URL as it may be logged (no password). */
  safeUrl: string
  close (): Promise<void>
}

/**
 * Connects to the shared Redis. A Redis that is down at start does not stop the gateway: it
 * starts on its local share (unkeyed requests served, keyed ones 503) and switches to the shared
 * state as soon as Redis answers.
 */
export async function openSharedRedis (config: SharedRedisConfig, log: Log, opts: { readyTimeoutMs?: number, connectionName?: string } = {}): Promise<SharedRedis> {
  const safeUrl = redactRedisUrl(config.url)
  let lastLogged = 0
  const client = createRedisClient({
    url: config.url,
    password: config.password,
    connectionName: opts.connectionName,
    onError: (err) => {
      // A dead Redis errors on every reconnect attempt: one line every 10 s is enough.
      if (Date.now() - lastLogged < 10_000) return
      lastLogged = Date.now()
      log.warn({ redis: safeUrl, err: { message: err.message, code: (err as { code?: string }).code } }, 'Redis connection error')
    }
  })
  const health = new RedisHealth(client, {
    onChange: (available, err) => {
      if (available) log.info({ redis: safeUrl }, 'Redis available: shared call budget, quota and Idempotency-Key store in use')
      else log.warn({ redis: safeUrl, reason: err?.message }, 'Redis unavailable: local share of the Marketo budget in use; requests with an Idempotency-Key answer 503')
    }
  })
  try {
    await waitReady(client, opts.readyTimeoutMs ?? 2_000)
    log.info({ redis: safeUrl }, 'connected to Redis')
  } catch {
    log.warn({ redis: safeUrl }, 'Redis not reachable at start: starting on the local share of the Marketo budget')
  }
  return {
    client,
    health,
    prefix: config.prefix,
    safeUrl,
    close: async () => {
      health.close()
      try {
        await client.quit()
      } catch {
        client.disconnect()
      }
    }
  }
}
