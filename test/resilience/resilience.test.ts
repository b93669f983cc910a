import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { startGateway, request, syncCalls, type TestGateway } from '../helpers/gateway.js'

const insert = (value: string) => ({ operation: 'insert', opportunities: [{ externalKey: { name: 'opportunityId', value }, name: value }] })
const createdWithKey = (gw: TestGateway, value: string) => [...gw.sim.store.opportunities.values()].filter((o) => o.fields.opportunityId === value).length

describe('retries only where provably safe', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ env: { MARKETO_CALL_TIMEOUT_MS: '300', REQUEST_TIMEOUT_MS: '3000', BREAKER_FAILURE_THRESHOLD: '1000' } }) })
  after(async () => { await gw.close() })

  it('timeout after send → 504, objects unknown, exactly one upstream call (INSERT is never re-sent)', async () => {
    const calls = syncCalls(gw.sim)
    gw.sim.knobs.enqueue({ latencyMs: 800 })
    const res = await request(`${gw.url}/opportunities`, { body: insert('timeout-1') })
    assert.equal(res.status, 504)
    assert.equal(res.body.results[0].status, 'unknown')
    assert.equal(syncCalls(gw.sim), calls + 1)
  })

  it('20016 then success → two calls with different timestamps and signatures, one object created', async () => {
    const calls = gw.sim.ledger.length
    gw.sim.knobs.enqueue({ fault: 20016 })
    const res = await request(`${gw.url}/opportunities`, { body: insert('resign-1') })
    assert.equal(res.status, 200)
    assert.equal(res.body.results[0].status, 'created')
    const entries = gw.sim.ledger.slice(calls)
    assert.equal(entries.length, 2)
    assert.equal(entries[0].faultCode, 20016)
    assert.notEqual(entries[0].requestSignature, entries[1].requestSignature)
    assert.equal(createdWithKey(gw, 'resign-1'), 1)
  })

  it('20023 then success → retried with backoff, 200', async () => {
    const calls = gw.sim.ledger.length
    gw.sim.knobs.enqueue({ fault: 20023 })
    const res = await request(`${gw.url}/opportunities`, { body: insert('rate-1') })
    assert.equal(res.status, 200)
    assert.equal(gw.sim.ledger.length - calls, 2)
    assert.equal(createdWithKey(gw, 'rate-1'), 1)
  })

  it('a timed-out UPDATE by id is idempotent and retried', async () => {
    const calls = syncCalls(gw.sim)
    gw.sim.knobs.enqueue({ latencyMs: 800 })
    const res = await request(`${gw.url}/opportunities`, { body: { operation: 'update', opportunities: [{ id: 64, stage: 'Retried' }] } })
    assert.equal(res.status, 200)
    assert.equal(syncCalls(gw.sim), calls + 2)
  })

  it('a dribbled body is cut off at the call deadline', async () => {
    gw.sim.knobs.enqueue({ dribble: { chunkBytes: 10, intervalMs: 100 } })
    const started = Date.now()
    const res = await request(`${gw.url}/opportunities`, { body: insert('dribble-1') })
    assert.equal(res.status, 504)
    assert.ok(Date.now() - started < 1_000)
  })
})

describe('circuit breaker', () => {
  it('opens after consecutive transport failures, fails fast without calling upstream, closes after a good probe', async () => {
    const gw = await startGateway({ env: { BREAKER_FAILURE_THRESHOLD: '3', BREAKER_OPEN_MS: '300', MARKETO_MAX_ATTEMPTS: '1' } })
    try {
      gw.sim.knobs.setDefault({ resetBeforeApply: true })
      for (let i = 0; i < 3; i++) {
        const res = await request(`${gw.url}/opportunities`, { body: insert(`outage-${i}`) })
        assert.equal(res.status, 502)
      }
      const calls = gw.sim.ledger.length
      for (let i = 0; i < 5; i++) {
        const started = performance.now()
        const res = await request(`${gw.url}/opportunities`, { body: insert(`open-${i}`) })
        assert.equal(res.status, 503)
        assert.equal(res.body.code, 'UPSTREAM_CIRCUIT_OPEN')
        assert.match(res.headers.get('retry-after') ?? '', /^\d+$/)
        assert.equal(res.body.results[0].status, 'not_applied')
        assert.ok(performance.now() - started < 100)
      }
      assert.equal(gw.sim.ledger.length, calls, 'no upstream call while open')
      gw.sim.knobs.setDefault(undefined)
      await sleep(350)
      const probe = await request(`${gw.url}/opportunities`, { body: insert('probe') })
      assert.equal(probe.status, 200)
      assert.equal((await request(`${gw.url}/readyz`)).body.upstream.circuit, 'closed')
    } finally {
      await gw.close()
    }
  })
})

describe('Idempotency-Key', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ env: { IDEMPOTENCY_TTL_MS: '1000', MARKETO_MAX_ATTEMPTS: '1', BREAKER_FAILURE_THRESHOLD: '1000' } }) })
  after(async () => { await gw.close() })

  it('a repeat is replayed with Idempotent-Replayed: true, one upstream call', async () => {
    const calls = syncCalls(gw.sim)
    const headers = { 'idempotency-key': 'key-replay-0001' }
    const first = await request(`${gw.url}/opportunities`, { body: insert('idem-1'), headers })
    const second = await request(`${gw.url}/opportunities`, { body: insert('idem-1'), headers })
    assert.equal(first.status, 200)
    assert.equal(second.status, 200)
    assert.equal(second.text, first.text)
    assert.equal(second.headers.get('idempotent-replayed'), 'true')
    assert.equal(first.headers.get('idempotent-replayed'), null)
    assert.equal(syncCalls(gw.sim), calls + 1)
  })

  it('10 parallel requests with one key → exactly one upstream call, the others 409 with Retry-After', async () => {
    const calls = syncCalls(gw.sim)
    gw.sim.knobs.enqueue({ latencyMs: 300 })
    const headers = { 'idempotency-key': 'key-parallel-01' }
    const responses = await Promise.all(Array.from({ length: 10 }, () => request(`${gw.url}/opportunities`, { body: insert('idem-par'), headers })))
    const statuses = responses.map((r) => r.status).sort()
    assert.deepEqual(statuses, [200, 409, 409, 409, 409, 409, 409, 409, 409, 409])
    for (const r of responses.filter((x) => x.status === 409)) {
      assert.equal(r.body.code, 'IDEMPOTENCY_KEY_IN_USE')
      assert.match(r.headers.get('retry-after') ?? '', /^\d+$/)
    }
    assert.equal(syncCalls(gw.sim), calls + 1)
    assert.equal(createdWithKey(gw, 'idem-par'), 1)
  })

  it('the same key with a different body → 422, nothing sent', async () => {
    const headers = { 'idempotency-key': 'key-different-1' }
    await request(`${gw.url}/opportunities`, { body: insert('idem-a'), headers })
    const calls = syncCalls(gw.sim)
    const res = await request(`${gw.url}/opportunities`, { body: insert('idem-b'), headers })
    assert.equal(res.status, 422)
    assert.equal(res.body.code, 'IDEMPOTENCY_KEY_REUSED')
    assert.equal(syncCalls(gw.sim), calls)
  })

  it('reset after apply, retry with the same key → the stored 502 is replayed, no duplicate', async () => {
    const headers = { 'idempotency-key': 'key-reset-00001' }
    gw.sim.knobs.enqueue({ resetAfterApply: true })
    const first = await request(`${gw.url}/opportunities`, { body: insert('idem-reset'), headers })
    assert.equal(first.status, 502)
    assert.equal(first.body.results[0].status, 'unknown')
    const calls = syncCalls(gw.sim)
    const retry = await request(`${gw.url}/opportunities`, { body: insert('idem-reset'), headers })
    assert.equal(retry.status, 502)
    assert.equal(retry.headers.get('idempotent-replayed'), 'true')
    assert.equal(retry.text, first.text)
    assert.equal(syncCalls(gw.sim), calls)
    assert.equal(createdWithKey(gw, 'idem-reset'), 1)
  })

  it('invalid keys → 400; after the TTL a key is processed anew', async () => {
    for (const key of ['1', 'x'.repeat(256), 'has space inside']) {
      const res = await request(`${gw.url}/opportunities`, { body: insert('idem-bad'), headers: { 'idempotency-key': key } })
      assert.equal(res.status, 400, key)
    }
    const headers = { 'idempotency-key': 'key-ttl-000001' }
    await request(`${gw.url}/programs/1970/costs`, { body: { costs: [{ month: '2013-06', amount: 7, id: 153 }] }, headers })
    const calls = syncCalls(gw.sim)
    await sleep(1_100)
    const again = await request(`${gw.url}/programs/1970/costs`, { body: { costs: [{ month: '2013-06', amount: 7, id: 153 }] }, headers })
    assert.equal(again.headers.get('idempotent-replayed'), null)
    assert.equal(syncCalls(gw.sim), calls + 1)
  })
})
