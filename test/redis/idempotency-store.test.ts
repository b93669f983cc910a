import { test, describe, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { redisPair } from '../helpers/redis-pair.js'
import { RedisIdempotencyStore } from '../../src/upstream/state/redis/idempotency-store.js'
import { MemoryIdempotencyStore, idempotencyKeyOf, type IdempotencyStore, type StoredResponse } from '../../src/upstream/state/idempotency.js'

const redis = redisPair()

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const LEASE = 120
const TTL = 60_000
const opts = { leaseMs: LEASE, ttlMs: TTL }
const response = (body: string): StoredResponse => ({ statusCode: 200, contentType: 'application/json', body })
let n = 0
const freshKey = (): string => idempotencyKeyOf('alice', `key-${process.pid}-${++n}-${Math.random()}`)

// The same contract for both implementations; each "replica" is a store instance (for Redis, on
// its own connection), which is what two gateway processes would hold.
const implementations: Array<{ name: string, make: () => [IdempotencyStore, IdempotencyStore] }> = [
  {
    name: 'memory',
    make: () => {
      const s = new MemoryIdempotencyStore(1_000)
      return [s, s]
    }
  },
  { name: 'redis', make: () => [new RedisIdempotencyStore({ redis: redis.a }), new RedisIdempotencyStore({ redis: redis.b })] }
]

for (const impl of implementations) {
  describe(`idempotency store contract: ${impl.name}`, () => {
    let a: IdempotencyStore
    let b: IdempotencyStore
    beforeEach(() => { [a, b] = impl.make() })

    test('claim: new key claimed; live lease → in_flight; other fingerprint → mismatch; same token → claimed again', async () => {
      const key = freshKey()
      const first = await a.claim(key, 'fp1', opts)
      assert.equal(first.kind, 'claimed')
      const second = await b.claim(key, 'fp1', opts)
      assert.equal(second.kind, 'in_flight')
      assert.ok(second.kind === 'in_flight' && second.retryAfterMs > 0 && second.retryAfterMs <= LEASE)
      assert.deepEqual(await b.claim(key, 'fp2', opts), { kind: 'mismatch' })
      assert.ok(first.kind === 'claimed')
      assert.deepEqual(await b.claim(key, 'fp1', { ...opts, token: first.token }), { kind: 'claimed', token: first.token })
    })

    test('complete stores the response for replay; the finished record is no longer owned', async () => {
      const key = freshKey()
      const c = await a.claim(key, 'fp', opts)
      assert.ok(c.kind === 'claimed')
      assert.equal(await a.complete(key, c.token, response('{"ok":1}')), 'stored')
      assert.deepEqual(await b.claim(key, 'fp', opts), { kind: 'done', response: response('{"ok":1}') })
      assert.deepEqual(await b.claim(key, 'other', opts), { kind: 'mismatch' })
      assert.equal(await a.complete(key, c.token, response('{"ok":2}')), 'fenced', 'a second complete is refused')
      assert.equal(await a.release(key, c.token), false, 'a finished record is not released')
      assert.equal(await a.renew(key, c.token, LEASE), false)
      assert.deepEqual(await b.claim(key, 'fp', opts), { kind: 'done', response: response('{"ok":1}') })
    })

    test('release frees the key; a wrong token releases nothing', async () => {
      const key = freshKey()
      const c = await a.claim(key, 'fp', opts)
      assert.ok(c.kind === 'claimed')
      assert.equal(await b.release(key, 'not-the-token'), false)
      assert.equal((await b.claim(key, 'fp', opts)).kind, 'in_flight')
      assert.equal(await a.release(key, c.token), true)
      assert.equal((await b.claim(key, 'fp2', opts)).kind, 'claimed', 'a released key is new, even for another request')
    })

    test('takeover after an expired lease in phase claimed; the dead owner is fenced out of every write', async () => {
      const key = freshKey()
      const dead = await a.claim(key, 'fp', opts)
      assert.ok(dead.kind === 'claimed')
      await sleep(LEASE + 60)
      const taken = await b.claim(key, 'fp', opts)
      assert.equal(taken.kind, 'takeover')
      assert.ok(taken.kind === 'takeover' && taken.token !== dead.token)
      assert.equal((await a.claim(key, 'fp', opts)).kind, 'in_flight', 'the new owner holds a fresh lease')
      assert.equal(await a.markCalling(key, dead.token), false)
      assert.equal(await a.renew(key, dead.token, LEASE), false)
      assert.equal(await a.complete(key, dead.token, response('late')), 'fenced')
      assert.equal(await a.release(key, dead.token), false)
      assert.equal(await b.complete(key, taken.token, response('new owner')), 'stored')
      assert.deepEqual(await a.claim(key, 'fp', opts), { kind: 'done', response: response('new owner') })
    })

    test('an expired lease in phase calling → outcome_unknown (no takeover); the slow owner may still complete', async () => {
      const key = freshKey()
      const c = await a.claim(key, 'fp', opts)
      assert.ok(c.kind === 'claimed')
      assert.equal(await a.markCalling(key, c.token), true)
      assert.equal((await b.claim(key, 'fp', opts)).kind, 'in_flight', 'while the lease lives')
      await sleep(LEASE + 60)
      assert.deepEqual(await b.claim(key, 'fp', opts), { kind: 'outcome_unknown' })
      assert.deepEqual(await b.claim(key, 'fp', opts), { kind: 'outcome_unknown' }, 'and it stays so, nobody took over')
      assert.equal(await a.complete(key, c.token, response('slow but done')), 'stored')
      assert.deepEqual(await b.claim(key, 'fp', opts), { kind: 'done', response: response('slow but done') })
    })

    test('markCalling needs a live lease; renew keeps a claim alive past its first lease', async () => {
      const key = freshKey()
      const c = await a.claim(key, 'fp', opts)
      assert.ok(c.kind === 'claimed')
      await sleep(LEASE + 60)
      assert.equal(await a.markCalling(key, c.token), false, 'lease expired: do not call')
      assert.equal(await a.renew(key, c.token, LEASE), true, 'nobody took over: the owner may renew')
      for (let i = 0; i < 4; i++) {
        await sleep(LEASE / 2)
        assert.equal(await a.renew(key, c.token, LEASE), true)
      }
      assert.equal((await b.claim(key, 'fp', opts)).kind, 'in_flight', 'renewed past twice its first lease')
      assert.equal(await a.markCalling(key, c.token), true)
    })

    test('the record lives ttlMs from the claim, not from the lease', async () => {
      const key = freshKey()
      const c = await a.claim(key, 'fp', { leaseMs: 50, ttlMs: 1_000 })
      assert.ok(c.kind === 'claimed')
      assert.equal(await a.complete(key, c.token, response('x')), 'stored')
      await sleep(200)
      assert.equal((await b.claim(key, 'fp', opts)).kind, 'done', 'kept past the lease')
      await sleep(900)
      assert.equal((await b.claim(key, 'fp', opts)).kind, 'claimed', 'gone after the TTL')
    })
  })
}

describe('Redis idempotency store specifics', () => {
  test('the Redis TTL is the claim\'s, responses are stored compressed', async () => {
    const store = new RedisIdempotencyStore({ redis: redis.a })
    const key = freshKey()
    const c = await store.claim(key, 'fp', { leaseMs: 100, ttlMs: 10_000 })
    assert.ok(c.kind === 'claimed')
    const body = JSON.stringify({ results: Array.from({ length: 500 }, (_, i) => ({ seq: i, status: 'created' })) })
    assert.equal(await store.complete(key, c.token, response(body)), 'stored')
    const ttl = await redis.a.pttl(store.redisKey(key))
    assert.ok(ttl > 5_000 && ttl <= 10_000, `TTL ${ttl}`)
    const raw = await redis.a.hget(store.redisKey(key), 'resp')
    assert.ok(raw !== null && raw.length < body.length / 4, 'compressed')
    assert.deepEqual(await store.claim(key, 'fp', { leaseMs: 100, ttlMs: 10_000 }), { kind: 'done', response: response(body) })
  })

  test('a response over the cap is kept as a marker with its status', async () => {
    const store = new RedisIdempotencyStore({ redis: redis.a, maxResponseBytes: 64 })
    const key = freshKey()
    const c = await store.claim(key, 'fp', opts)
    assert.ok(c.kind === 'claimed')
    const body = Array.from({ length: 200 }, (_, i) => `${i * 7919 % 1000}`).join(',')
    assert.equal(await store.complete(key, c.token, { statusCode: 207, contentType: 'application/json', body }), 'omitted')
    const replay = await store.claim(key, 'fp', opts)
    assert.ok(replay.kind === 'done' && 'omitted' in replay.response)
    assert.equal(replay.response.statusCode, 207)
    assert.equal(replay.response.omitted, 'too_large')
  })

  test('20 replicas racing for one key: exactly one claim', async () => {
    const key = freshKey()
    const stores = Array.from({ length: 20 }, (_, i) => new RedisIdempotencyStore({ redis: i % 2 === 0 ? redis.a : redis.b }))
    const results = await Promise.all(stores.map((s) => s.claim(key, 'fp', opts)))
    assert.equal(results.filter((r) => r.kind === 'claimed').length, 1)
    assert.equal(results.filter((r) => r.kind === 'in_flight').length, 19)
  })

  test('a hung Redis makes claim reject (the plugin answers an error), not hang', async () => {
    const store = new RedisIdempotencyStore({ redis: redis.a })
    redis.server.pause()
    let outcome: unknown
    try {
      outcome = await Promise.race([store.claim(freshKey(), 'fp', opts).then(() => 'answered', (err: Error) => err), sleep(5_000).then(() => 'guard')])
    } finally {
      redis.server.resume()
    }
    assert.ok(outcome instanceof Error, `rejected, got ${String(outcome)}`)
    for (let i = 0; i < 40; i++) {
      if (await redis.a.ping().then(() => true, () => false)) break
      await sleep(50)
    }
  })
})
