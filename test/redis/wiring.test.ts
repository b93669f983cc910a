import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { request, startGateway } from '../helpers/gateway.js'
import { idempotencyKeyOf } from '../../src/upstream/state/idempotency.js'

// The REDIS_URL wiring inside one process (buildApp): what the process tests (test/replicas/)
// cannot look into.
let redis: TestRedis
let client: Redis

before(async () => {
  redis = await startRedis()
  client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
})
after(async () => {
  client.disconnect()
  await redis.stop()
})

const insert = (name: string): object => ({ operation: 'insert', opportunities: [{ name, externalKey: { name: 'opportunityId', value: name } }] })

describe('REDIS_URL wiring', () => {
  it('phase calling is written for every keyed request of a coalesced call before it is sent', async () => {
    const gw = await startGateway({ backend: 'soap', env: { REDIS_URL: redis.url, COALESCE_WINDOW_MS: '50' } })
    try {
      gw.sim.knobs.enqueue({ latencyMs: 400 })
      const keys = [randomUUID(), randomUUID()]
      const sent = keys.map((k) => request(`${gw.url}/opportunities`, { method: 'POST', body: insert(`coalesced-${k}`), headers: { 'idempotency-key': k } }))
      for (let i = 0; i < 100 && gw.sim.ledger.length === 0; i++) await sleep(20)
      assert.equal(gw.sim.ledger.length, 1, 'one call carries both requests')
      assert.equal(gw.sim.ledger[0].objects?.length, 2)
      for (const k of keys) {
        assert.equal(await client.hget(`mkto:idem:${idempotencyKeyOf('test', k)}`, 'phase'), 'calling')
      }
      for (const r of await Promise.all(sent)) assert.equal(r.status, 200)
      for (const k of keys) assert.equal(await client.hget(`mkto:idem:${idempotencyKeyOf('test', k)}`, 'state'), 'done')
    } finally {
      await gw.close()
    }
  })

  it('the per-key caller limit is counted for both replicas together, and fails open while Redis is hung', async () => {
    const env = { REDIS_URL: redis.url, API_KEY_RATE_LIMIT: '3', API_KEY_RATE_WINDOW_MS: '60000', REDIS_KEY_PREFIX: `limit${Date.now()}` }
    const a = await startGateway({ backend: 'soap', env })
    const b = await startGateway({ backend: 'soap', env })
    try {
      const statuses: number[] = []
      for (const gw of [a, b, a]) statuses.push((await request(`${gw.url}/opportunities`, { method: 'POST', body: insert(`limit-${randomUUID()}`) })).status)
      const calls = b.sim.ledger.length
      const limited = await request(`${b.url}/opportunities`, { method: 'POST', body: insert(`limit-${randomUUID()}`) })
      assert.deepEqual(statuses, [200, 200, 200])
      assert.equal(limited.status, 429)
      assert.equal(limited.body.code, 'RATE_LIMITED')
      assert.match(String(limited.headers.get('retry-after')), /^\d+$/)
      assert.equal(b.sim.ledger.length, calls, 'refused before any Marketo call')

      redis.pause()
      try {
        // Fail open: the limit is not enforced while Redis does not answer.
        const open = await request(`${b.url}/opportunities`, { method: 'POST', body: insert(`open-${randomUUID()}`) })
        assert.equal(open.status, 200)
        const ready = await request(`${b.url}/readyz`)
        assert.deepEqual(ready.body.redis?.status, 'down')
      } finally {
        redis.resume()
      }
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('/readyz reports Redis; without REDIS_URL it has no redis field', async () => {
    const shared = await startGateway({ backend: 'soap', env: { REDIS_URL: redis.url } })
    const alone = await startGateway({ backend: 'soap' })
    try {
      for (let i = 0; i < 50 && (await request(`${shared.url}/readyz`)).body.redis?.status !== 'up'; i++) await sleep(100)
      const r = await request(`${shared.url}/readyz`)
      assert.deepEqual(r.body, { status: 'ready', backend: 'soap', upstream: { circuit: 'closed', embeddedSimulator: false }, redis: { status: 'up', budget: 'shared' } })
      assert.equal((await request(`${alone.url}/readyz`)).body.redis, undefined)
    } finally {
      await shared.close()
      await alone.close()
    }
  })

  it('20015 on one replica: the other fails fast within about a second, without calling Marketo', async () => {
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `quota${Date.now()}`, MARKETO_MAX_ATTEMPTS: '1' }
    const a = await startGateway({ backend: 'soap', env })
    const b = await startGateway({ backend: 'soap', env })
    try {
      a.sim.knobs.enqueue({ fault: 20015 })
      const refused = await request(`${a.url}/opportunities`, { method: 'POST', body: insert(`quota-${randomUUID()}`) })
      assert.equal(refused.body.code, 'UPSTREAM_QUOTA_EXCEEDED')
      let fromB = await request(`${b.url}/opportunities`, { method: 'POST', body: insert(`quota-${randomUUID()}`) })
      for (let i = 0; i < 50 && fromB.body.code !== 'UPSTREAM_QUOTA_EXCEEDED'; i++) {
        await sleep(100)
        fromB = await request(`${b.url}/opportunities`, { method: 'POST', body: insert(`quota-${randomUUID()}`) })
      }
      const called = b.sim.ledger.length
      const again = await request(`${b.url}/opportunities`, { method: 'POST', body: insert(`quota-${randomUUID()}`) })
      assert.equal(again.status, 429)
      assert.equal(again.body.code, 'UPSTREAM_QUOTA_EXCEEDED')
      assert.match(String(again.headers.get('retry-after')), /^\d+$/)
      assert.equal(b.sim.ledger.length, called, 'B no longer calls Marketo')
    } finally {
      await a.close()
      await b.close()
    }
  })

  it('20023 on one replica pauses the other (shared cool-down): it answers 429 without calling Marketo', async () => {
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: `cool${Date.now()}`, MARKETO_MAX_ATTEMPTS: '1', REQUEST_TIMEOUT_MS: '15000' }
    const a = await startGateway({ backend: 'soap', env })
    const b = await startGateway({ backend: 'soap', env })
    try {
      a.sim.knobs.enqueue({ fault: 20023 })
      const refused = await request(`${a.url}/opportunities`, { method: 'POST', body: insert(`cool-${randomUUID()}`) })
      assert.equal(refused.body.code, 'UPSTREAM_RATE_LIMITED')
      // The pause (one 20 s window) outlasts B's request deadline: refused at once, nothing sent.
      let fromB = await request(`${b.url}/opportunities`, { method: 'POST', body: insert(`cool-${randomUUID()}`) })
      for (let i = 0; i < 20 && fromB.status !== 429; i++) {
        await sleep(100)
        fromB = await request(`${b.url}/opportunities`, { method: 'POST', body: insert(`cool-${randomUUID()}`) })
      }
      assert.equal(fromB.status, 429)
      assert.equal(fromB.body.code, 'RATE_LIMITED')
      assert.match(fromB.body.detail, /pause/)
      assert.equal(b.sim.ledger.length, 0)
    } finally {
      await a.close()
      await b.close()
    }
  })
})
