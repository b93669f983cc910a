import { before, after, beforeEach } from 'node:test'
import type { Redis } from 'ioredis'
import { startRedis, type TestRedis } from './redis.js'
import { createRedisClient, waitReady } from '../../src/upstream/state/redis/client.js'

export interface RedisPair {
  readonly server: TestRedis
  /** The connection of simulated replica A. */
  readonly a: Redis
  /** The connection of simulated replica B. */
  readonly b: Redis
}

/**
 * A real redis-server and two gateway-style connections to it (one per simulated replica), set up
 * by the enclosing file's or describe's before hook and taken down by its after hook; with
 * flushEach, every test starts on an empty Redis.
 */
export function redisPair (opts: { flushEach?: boolean } = {}): RedisPair {
  let server: TestRedis | undefined
  let a: Redis | undefined
  let b: Redis | undefined
  const ready = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('redisPair is used before its before hook ran')
    return v
  }
  before(async () => {
    server = await startRedis()
    a = createRedisClient({ url: server.url })
    b = createRedisClient({ url: server.url })
    await Promise.all([waitReady(a, 2_000), waitReady(b, 2_000)])
  })
  after(async () => {
    a?.disconnect()
    b?.disconnect()
    await server?.stop()
  })
  if (opts.flushEach === true) beforeEach(async () => { await ready(a).flushall() })
  return {
    get server () { return ready(server) },
    get a () { return ready(a) },
    get b () { return ready(b) }
  }
}
