import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import type { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { createRedisClient, waitReady } from '../../src/upstream/state/redis/client.js'
import { RedisIdempotencyStore } from '../../src/upstream/state/redis/idempotency-store.js'
import idempotencyPlugin from '../../src/http/plugins/idempotency.js'
import type { IdempotencyStore } from '../../src/upstream/state/idempotency.js'

let server: TestRedis
let redis: Redis
before(async () => {
  server = await startRedis()
  redis = createRedisClient({ url: server.url })
  await waitReady(redis, 2_000)
})
after(async () => {
  redis.disconnect()
  await server.stop()
})

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// A replica that froze: its lease renewals never reach Redis.
function frozenRenewals (store: IdempotencyStore): IdempotencyStore {
  return {
    claim: (...args) => store.claim(...args),
    markCalling: (...args) => store.markCalling(...args),
    complete: (...args) => store.complete(...args),
    release: (...args) => store.release(...args),
    renew: async () => true
  }
}

// A replica with one write route; the handler optionally marks the call as sent, then takes holdMs.
async function replica (store: IdempotencyStore, name: string, holdMs: number, markCalling: boolean): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(idempotencyPlugin, { ttlMs: 60_000, maxEntries: 100, leaseMs: 200, store })
  app.post('/write', async (request) => {
    if (markCalling) assert.equal(await request.idempotencyClaim?.markCalling(), true)
    await sleep(holdMs)
    return { servedBy: name, body: request.body }
  })
  await app.ready()
  return app
}

const send = (app: FastifyInstance, key: string): Promise<LightMyRequestResponse> =>
  app.inject({ method: 'POST', url: '/write', headers: { 'idempotency-key': key, 'content-type': 'application/json' }, payload: { n: 1 } })

test('a replica that froze before calling Marketo is taken over; its late answer is not stored', async () => {
  const shared = new RedisIdempotencyStore({ redis })
  const a = await replica(frozenRenewals(shared), 'a', 700, false)
  const b = await replica(shared, 'b', 0, false)
  try {
    const slow = send(a, 'takeover-key-0001')
    await sleep(450)
    const fromB = await send(b, 'takeover-key-0001')
    assert.equal(fromB.statusCode, 200)
    assert.equal(fromB.json().servedBy, 'b')
    assert.equal((await slow).json().servedBy, 'a')
    const replay = await send(b, 'takeover-key-0001')
    assert.equal(replay.headers['idempotent-replayed'], 'true')
    assert.equal(replay.json().servedBy, 'b', 'the fenced late answer of a did not overwrite b\'s')
  } finally {
    await a.close()
    await b.close()
  }
})

test('a replica that froze during its Marketo call → 409 IDEMPOTENCY_OUTCOME_UNKNOWN, no Retry-After', async () => {
  const shared = new RedisIdempotencyStore({ redis })
  const a = await replica(frozenRenewals(shared), 'a', 700, true)
  const b = await replica(shared, 'b', 0, false)
  try {
    const slow = send(a, 'unknown-key-00001')
    await sleep(450)
    const fromB = await send(b, 'unknown-key-00001')
    assert.equal(fromB.statusCode, 409)
    assert.equal(fromB.json().code, 'IDEMPOTENCY_OUTCOME_UNKNOWN')
    assert.equal(fromB.headers['retry-after'], undefined)
    await slow
  } finally {
    await a.close()
    await b.close()
  }
})

test('a live replica renews its lease: another replica answers 409 IN_USE with Retry-After meanwhile', async () => {
  const shared = new RedisIdempotencyStore({ redis })
  const a = await replica(shared, 'a', 700, true)
  const b = await replica(shared, 'b', 0, false)
  try {
    const slow = send(a, 'renewed-key-00001')
    await sleep(450)
    const fromB = await send(b, 'renewed-key-00001')
    assert.equal(fromB.statusCode, 409)
    assert.equal(fromB.json().code, 'IDEMPOTENCY_KEY_IN_USE')
    assert.match(String(fromB.headers['retry-after']), /^\d+$/)
    assert.equal((await slow).statusCode, 200)
    assert.equal((await send(b, 'renewed-key-00001')).json().servedBy, 'a')
  } finally {
    await a.close()
    await b.close()
  }
})

test('a response over the store\'s cap → 409 IDEMPOTENCY_RESPONSE_TOO_LARGE naming the first status', async () => {
  const a = await replica(new RedisIdempotencyStore({ redis, maxResponseBytes: 10 }), 'a', 0, false)
  try {
    assert.equal((await send(a, 'toolarge-key-0001')).statusCode, 200)
    const replay = await send(a, 'toolarge-key-0001')
    assert.equal(replay.statusCode, 409)
    assert.equal(replay.json().code, 'IDEMPOTENCY_RESPONSE_TOO_LARGE')
    assert.match(replay.json().detail, /answered 200/)
  } finally {
    await a.close()
  }
})
