import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { createRedisClient, redactRedisUrl, redisOptions, waitReady } from '../../src/upstream/state/redis/client.js'

let server: TestRedis
before(async () => { server = await startRedis() })
after(async () => { await server.stop() })

// Rejects the promise's outcome as a value, or 'guard' if it has not settled within ms.
async function settleWithin<T> (p: Promise<T>, ms: number): Promise<{ ok: true, value: T } | { ok: false, error: Error } | 'guard'> {
  let timer: NodeJS.Timeout | undefined
  const guard = new Promise<'guard'>((resolve) => { timer = setTimeout(() => resolve('guard'), ms) })
  try {
    return await Promise.race([p.then((value) => ({ ok: true as const, value }), (error: Error) => ({ ok: false as const, error })), guard])
  } finally {
    clearTimeout(timer)
  }
}

test('a missing redis-server fails the tests instead of skipping them', async () => {
  await assert.rejects(startRedis({ binary: '/nonexistent/redis-server' }), /install Debian redis-server/)
})

test('redactRedisUrl hides user and password, also in unparsable strings', () => {
  assert.equal(redactRedisUrl('redis://:s3cret@cache:6380/2'), 'redis://:***@cache:6380/2')
  assert.equal(redactRedisUrl('rediss://gw:s3cret@cache:6380'), 'rediss://***:***@cache:6380')
  assert.equal(redactRedisUrl('redis://cache:6379'), 'redis://cache:6379')
  assert.ok(!redactRedisUrl('redis://u:p@ss@@bad url').includes('p@ss'))
})

test('options: fail fast, no offline queue, no resend; password from URL or option; rediss means TLS', () => {
  const o = redisOptions({ url: 'redis://gw:pa%3Ass@cache:6380/3' })
  assert.equal(o.enableOfflineQueue, false)
  assert.equal(o.maxRetriesPerRequest, 0)
  assert.equal(o.autoResendUnfulfilledCommands, false)
  assert.equal(o.commandTimeout, 500)
  assert.equal(o.host, 'cache')
  assert.equal(o.port, 6380)
  assert.equal(o.db, 3)
  assert.equal(o.username, 'gw')
  assert.equal(o.password, 'pa:ss')
  assert.equal(o.tls, undefined)
  assert.equal(redisOptions({ url: 'redis://:inurl@cache', password: 'fromfile' }).password, 'fromfile')
  assert.deepEqual(redisOptions({ url: 'rediss://cache' }).tls, { servername: 'cache' })
  assert.throws(() => redisOptions({ url: 'http://:secret@cache' }), (err: Error) => !err.message.includes('secret'))
})

test('connects, and authenticates with a password from the URL or the option', async () => {
  const admin = createRedisClient({ url: server.url })
  try {
    await waitReady(admin, 2_000)
    assert.equal(await admin.ping(), 'PONG')
    await admin.config('SET', 'requirepass', 'test-only-pw')
    const byUrl = createRedisClient({ url: `redis://:test-only-pw@127.0.0.1:${server.port}` })
    const byOption = createRedisClient({ url: server.url, password: 'test-only-pw' })
    const wrong = createRedisClient({ url: server.url, password: 'nope', lazyConnect: true })
    try {
      await waitReady(byUrl, 2_000)
      await waitReady(byOption, 2_000)
      assert.equal(await byUrl.ping(), 'PONG')
      assert.equal(await byOption.ping(), 'PONG')
      await assert.rejects(waitReady(wrong, 1_000))
    } finally {
      byUrl.disconnect()
      byOption.disconnect()
      wrong.disconnect()
    }
  } finally {
    const reset = createRedisClient({ url: server.url, password: 'test-only-pw' })
    await waitReady(reset, 2_000).catch(() => {})
    await reset.config('SET', 'requirepass', '').catch(() => {})
    reset.disconnect()
    admin.disconnect()
  }
})

test('a hung Redis (SIGSTOP) rejects a command instead of holding it, and the client recovers', async () => {
  const client = createRedisClient({ url: server.url })
  try {
    await waitReady(client, 2_000)
    server.pause()
    let outcome
    try {
      outcome = await settleWithin(client.set('k', 'v'), 5_000)
    } finally {
      server.resume()
    }
    assert.notEqual(outcome, 'guard', 'the command must reject, not hang')
    assert.ok(outcome !== 'guard' && !outcome.ok, 'the command must fail while Redis is stopped')
    assert.match(outcome.error.message, /timed out/i)
    // Recovery: once the server runs again, the next command succeeds (bounded retries).
    let pong = ''
    for (let i = 0; i < 40 && pong !== 'PONG'; i++) {
      pong = await client.ping().catch(async () => { await new Promise((resolve) => setTimeout(resolve, 50)); return '' })
    }
    assert.equal(pong, 'PONG')
  } finally {
    client.disconnect()
  }
})

test('a dead Redis (SIGKILL) rejects at once (no offline queue), and the client reconnects after restart', async () => {
  const errors: string[] = []
  const client = createRedisClient({ url: server.url, onError: (_err, url) => errors.push(url) })
  try {
    await waitReady(client, 2_000)
    await server.kill()
    // The client notices the closed socket; a command then fails instead of queueing.
    const outcome = await settleWithin(client.get('k'), 5_000)
    assert.ok(outcome !== 'guard' && !outcome.ok, 'a command against a dead Redis must reject')
    await server.restart()
    let pong = ''
    for (let i = 0; i < 60 && pong !== 'PONG'; i++) {
      pong = await client.ping().catch(async () => { await new Promise((resolve) => setTimeout(resolve, 100)); return '' })
    }
    assert.equal(pong, 'PONG')
    assert.ok(errors.every((u) => u === server.url))
  } finally {
    client.disconnect()
  }
})
