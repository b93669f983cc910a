import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { postNdjson, streamResults, waitForJob } from './helpers.js'

// A bulk job accepts exactly what the sync routes accept: on REST (VALIDATE_CUSTOM_FIELDS on by
// default) a field name the cached describe does not list answers 400 naming its line, before
// anything is queued or sent, as POST /opportunities does (issue #14 item 1006, issue #16 J3).
const opportunity = (i: number, customFields?: Record<string, unknown>) => ({ externalKey: { name: 'opportunityId', value: `RF-${i}` }, name: `RF ${i}`, ...(customFields === undefined ? {} : { customFields }) })

describe('bulk jobs on REST check field names against the describe (real redis-server)', () => {
  let redis: TestRedis
  let gw: TestGateway
  let client: Redis

  before(async () => {
    redis = await startRedis()
    client = new Redis(redis.url)
    gw = await startGateway({ backend: 'rest', env: { REDIS_URL: redis.url } })
  })
  after(async () => {
    await gw?.close()
    client?.disconnect()
    await redis?.stop()
  })

  const writes = (from: number): number => gw.sim.ledger.slice(from).filter((e) => e.operation === 'syncMObjects').length

  it('NDJSON: an unknown custom field on line 251 answers 400 naming the line and the field; nothing is queued or sent', async () => {
    const from = gw.sim.ledger.length
    const lines = Array.from({ length: 400 }, (_, i) => opportunity(i, { ProductLine: 'Tea' }))
    lines[250] = opportunity(250, { NoSuchField: 'x' })
    const res = await postNdjson(gw.url, lines, 'kind=opportunities&operation=upsert')
    assert.equal(res.status, 400, res.text)
    assert.equal(res.body.code, 'VALIDATION_FAILED')
    assert.deepEqual(res.body.errors, [{ path: 'line 251: /customFields/NoSuchField', message: 'is not a field of Opportunity in Marketo (describeMObject)' }])
    assert.equal(writes(from), 0, 'nothing sent')
    assert.deepEqual(await client.keys('gwjobs:job:*'), [], 'nothing stored')
  })

  it('JSON mobjects: an unknown Opportunity attribute answers 400 naming its index', async () => {
    const from = gw.sim.ledger.length
    const res = await fetch(`${gw.url}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${(await import('../helpers/gateway.js')).TEST_API_KEY}` },
      body: JSON.stringify({ kind: 'mobjects', operation: 'UPSERT', objects: [{ type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'RF-m' }, attributes: { Name: 'M', Nope: 1 } }] })
    })
    const body = await res.json() as { errors: unknown }
    assert.equal(res.status, 400, JSON.stringify(body))
    assert.deepEqual(body.errors, [{ path: '/objects/0/attributes/Nope', message: 'is not a field of Opportunity in Marketo (describeMObject)' }])
    assert.equal(writes(from), 0)
  })

  it('known custom fields: the job is accepted and every object written', async () => {
    const lines = Array.from({ length: 350 }, (_, i) => opportunity(1_000 + i, { ProductLine: 'Coffee' }))
    const res = await postNdjson(gw.url, lines, 'kind=opportunities&operation=upsert')
    assert.equal(res.status, 202, res.text)
    const job = await waitForJob(gw.url, res.body.id)
    assert.equal(job.state, 'completed', JSON.stringify(job))
    const results = await streamResults(gw.url, res.body.id)
    assert.deepEqual(new Set(results.map((r) => r.status)), new Set(['created']))
    assert.equal(results.length, 350)
  })
})

describe('the read-back of a re-delivered REST chunk: one lookup for its keys (real simulator)', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ backend: 'rest' }) })
  after(async () => { await gw?.close() })

  it('the bulk reader names up to 300 keys a call and answers each record with its key and creation time', async () => {
    const reader = gw.app.marketo.bulk.reader
    assert.equal(reader.maxKeysPerRead, 300)
    const keys = Array.from({ length: 300 }, (_, i) => `RB-${i}`)
    const write = await gw.app.marketo.bulk.sync.run({ operation: 'INSERT', objects: keys.slice(0, 250).map((k) => ({ type: 'Opportunity', externalKey: { name: 'opportunityId', value: k }, attribs: [{ name: 'Name', value: k }] })) }, Date.now() + 30_000, gw.app.log)
    assert.equal(write.summary.created, 250, JSON.stringify(write.summary))
    const from = gw.sim.ledger.length
    const page = await reader.getMObjects({ type: 'Opportunity', externalKeys: keys.map((value) => ({ name: 'opportunityId', value })), pageSize: 300 }, Date.now() + 30_000, gw.app.log)
    assert.equal(gw.sim.ledger.length - from, 1, 'one call')
    assert.equal(page.objects.length, 250)
    assert.deepEqual(new Set(page.objects.map((o) => o.externalKey?.value)), new Set(keys.slice(0, 250)))
    assert.ok(page.objects.every((o) => typeof o.createdAt === 'string' && !Number.isNaN(Date.parse(o.createdAt))))
  })
})
