import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'

/**
 * A Lua script run by its SHA, loaded on demand. Every shared-state transition is one script so
 * that it is atomic across replicas without WATCH/MULTI round trips; EVALSHA keeps the request
 * small, and the NOSCRIPT fallback covers a Redis that restarted (or failed over) and lost its
 * script cache.
 */
export class LuaScript {
  readonly sha: string

  constructor (readonly source: string, readonly numberOfKeys: number) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  async run (redis: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    if (keys.length !== this.numberOfKeys) throw new Error(`script expects ${this.numberOfKeys} keys, got ${keys.length}`)
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
      return await redis.eval(this.source, keys.length, ...keys, ...args)
    }
  }
}

/** Lua: the server's clock in epoch ms, the one clock all replicas agree on. */
export const LUA_NOW_MS = `local __t = redis.call('TIME')
local now = tonumber(__t[1]) * 1000 + math.floor(tonumber(__t[2]) / 1000)
`
