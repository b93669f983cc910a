import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import type { Job } from 'bullmq'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { JobStore } from '../../src/jobs/store.js'
import { JobRunner, type ChunkData, type JobRuntime } from '../../src/jobs/runner.js'
import { GatewayError } from '../../src/domain/errors.js'
import type { MObject, MObjStatus, SyncOperation } from '../../src/domain/model.js'
import { fromCallError, fromMarketoStatus, summarize } from '../../src/domain/results.js'
import type { SyncPlan, SyncRun } from '../../src/upstream/sync-service.js'

const silent = { debug () {}, info () {}, warn () {}, error () {} }

/** A stand-in for app.marketo: answers each object with the status `answer` gives it and records what was sent. */
function fakeRuntime (answer: (o: MObject) => MObjStatus['status'] | GatewayError, reads: Record<string, string | undefined> = {}) {
  const sent: SyncPlan[] = []
  const read: string[] = []
  const runtime: JobRuntime = {
    sync: {
      async run (plan) {
        sent.push(plan)
        const results = plan.objects.map((o, i) => {
          const a = answer(o)
          return a instanceof GatewayError ? fromCallError(i, o, a) : fromMarketoStatus(i, o, { id: 1_000 + i, status: a })
        })
        const error = plan.objects.map(answer).find((a): a is GatewayError => a instanceof GatewayError)
        return { operation: plan.operation, results, summary: summarize(results), calls: 1, error } satisfies SyncRun
      }
    },
    reader: {
      async getMObjects (query) {
        const key = query.externalKey?.value ?? ''
        read.push(key)
        const createdAt = reads[key]
        return { objects: createdAt === undefined ? [] : [{ type: query.type, id: 5_000, createdAt }], hasMore: false, newStreamPosition: '' }
      }
    }
  }
  return { runtime, sent, read }
}

const opp = (key?: string): MObject => key === undefined ? { type: 'Opportunity', attribs: [{ name: 'Name', value: 'x' }] } : { type: 'Opportunity', externalKey: { name: 'opportunityId', value: key } }

describe('re-delivered chunks: what is sent again and what is reported', () => {
  let redis: TestRedis
  let client: Redis
  let store: JobStore
  before(async () => {
    redis = await startRedis()
    client = new Redis(redis.url)
    store = new JobStore(client, 'rt', 60_000)
  })
  after(async () => {
    client?.disconnect()
    await redis?.stop()
  })

  let n = 0
  /** A one-chunk job whose chunk a dead replica marked `calling` (or not, with dead false). */
  async function job (operation: SyncOperation, objects: MObject[], dead = true): Promise<string> {
    const id = `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`
    await store.stageChunk(id, objects)
    await store.create({ id, owner: 't', kind: 'mobjects', operation, total: objects.length, chunks: 1, chunkSize: 100, sequential: false })
    if (dead) assert.deepEqual(await store.begin(id, 0, 'dead-replica'), { kind: 'fresh' })
    return id
  }
  function runner (runtime: JobRuntime): JobRunner {
    return new JobRunner({ store, runtime, connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null }, prefix: 'rt', log: silent, chunkTimeoutMs: 5_000, lockMs: 5_000, attempts: 3, concurrency: 2, worker: false })
  }
  const deliver = (r: JobRunner, jobId: string): Promise<void> => r.process({ data: { jobId, chunk: 0 } } as Job<ChunkData>)

  it('INSERT: keyed objects are sent again; SKIPPED ones are read back (created by the lost call, or there before); unkeyed ones are unknown and never re-sent', async () => {
    const objects = [opp('new'), opp('made-by-lost-call'), opp('old'), opp()]
    const id = await job('INSERT', objects)
    const since = Date.now()
    const fake = fakeRuntime((o) => o.externalKey?.value === 'new' ? 'CREATED' : 'SKIPPED', {
      'made-by-lost-call': new Date(since).toISOString(),
      old: '2020-01-01T00:00:00.000Z'
    })
    const r = runner(fake.runtime)
    await deliver(r, id)
    await r.close()
    assert.deepEqual(fake.sent.map((p) => p.objects.map((o) => o.externalKey?.value)), [['new', 'made-by-lost-call', 'old']])
    assert.deepEqual(fake.read, ['made-by-lost-call', 'old'])
    const [results] = await store.results(id, 0, 0)
    assert.deepEqual(results?.map((x) => [x.index, x.status, x.id]), [[0, 'created', 1_000], [1, 'created', 5_000], [2, 'skipped', 5_000], [3, 'unknown', null]])
    assert.equal(results?.[3].error?.code, 'JOB_OUTCOME_UNKNOWN')
    const rec = await store.get(id)
    assert.equal(rec?.state, 'completed')
    assert.equal(rec?.reconciled, 4)
    assert.equal(rec?.counts.unknown, 1)
  })

  it('INSERT on a backend that reads several keys at once (REST, 300): the skipped objects are read back in one lookup, with the same verdicts', async () => {
    const objects = [opp('b-new'), opp('b-made-by-lost-call'), opp('b-old'), opp('b-gone'), opp()]
    const id = await job('INSERT', objects)
    const since = Date.now()
    const reads: Record<string, string> = { 'b-made-by-lost-call': new Date(since).toISOString(), 'b-old': '2020-01-01T00:00:00.000Z' }
    const fake = fakeRuntime((o) => o.externalKey?.value === 'b-new' ? 'CREATED' : 'SKIPPED')
    const lookups: string[][] = []
    const runtime: JobRuntime = {
      sync: fake.runtime.sync,
      reader: {
        maxKeysPerRead: 300,
        async getMObjects (query) {
          const keys = (query.externalKeys ?? []).map((k) => k.value)
          lookups.push(keys)
          // Marketo answers the matches in its own order, not the order of the values.
          const objects = keys.filter((k) => reads[k] !== undefined).reverse().map((k, i) => ({ type: query.type, id: 6_000 + i, externalKey: { name: 'opportunityId', value: k }, createdAt: reads[k] }))
          return { objects, hasMore: false, newStreamPosition: '' }
        }
      }
    }
    const r = runner(runtime)
    await deliver(r, id)
    await r.close()
    assert.deepEqual(lookups, [['b-made-by-lost-call', 'b-old', 'b-gone']], 'one lookup for every skipped object')
    const [results] = await store.results(id, 0, 0)
    assert.deepEqual(results?.map((x) => [x.index, x.status, x.externalKey?.value ?? null]), [[0, 'created', 'b-new'], [1, 'created', 'b-made-by-lost-call'], [2, 'skipped', 'b-old'], [3, 'unknown', 'b-gone'], [4, 'unknown', null]])
    assert.deepEqual(results?.slice(1, 3).map((x) => x.id), [6_001, 6_000])
    const rec = await store.get(id)
    assert.equal(rec?.calls, 2, 'one write and one read')
    assert.equal(rec?.counts.unknown, 2)
  })

  it('UPSERT by key and UPDATE with cost ids are sent again; appended cost lines are unknown', async () => {
    const upsert = await job('UPSERT', [opp('a'), opp('b')])
    const fake = fakeRuntime(() => 'UPDATED')
    const r = runner(fake.runtime)
    await deliver(r, upsert)
    assert.deepEqual(fake.sent.map((p) => p.objects.length), [2])

    const cost = (withId: boolean): MObject => ({ type: 'Program', id: 1970, typeAttribs: [{ attrType: 'Cost', attribs: [{ name: 'Month', value: '2026-01' }, { name: 'Amount', value: '5' }, ...(withId ? [{ name: 'Id', value: '7' }] : [])] }] })
    const update = await job('UPDATE', [cost(true), cost(false)])
    await deliver(r, update)
    await r.close()
    assert.equal(fake.sent.length, 2)
    assert.equal(fake.sent[1].objects.length, 1, 'only the cost with an id was sent again')
    const [results] = await store.results(update, 0, 0)
    assert.deepEqual(results?.map((x) => x.status), ['updated', 'unknown'])
  })

  it('a chunk refused before anything was sent (rate limit) is released and retried, not recorded', async () => {
    const id = await job('INSERT', [opp('later')], false)
    const fake = fakeRuntime(() => new GatewayError('RATE_LIMITED', 'no slot before the deadline', { sent: false, retryAfterMs: 500 }))
    const r = runner(fake.runtime)
    await assert.rejects(deliver(r, id), /no slot/)
    await r.close()
    assert.equal(await client.hget(store.keys.chunkStates(id), '0'), null, 'mark released: the retry is a fresh send')
    assert.deepEqual(await store.results(id, 0, 0), [null])
    assert.equal((await store.get(id))?.state, 'running')
  })

  it('a replica whose chunk was taken over cannot record its results (fencing)', async () => {
    const id = await job('UPSERT', [opp('x')])
    assert.deepEqual(await store.begin(id, 0, 'second-replica'), { kind: 'indoubt', since: Number((await client.hget(store.keys.chunkStates(id), '0'))?.split(':')[2]) })
    const results = [{ index: 0, id: 1, status: 'updated' as const }]
    assert.deepEqual(await store.commit(id, 0, 'dead-replica', results, 1, 0, summarize(results)), { kind: 'fenced' })
    assert.deepEqual(await store.commit(id, 0, 'second-replica', results, 1, 0, summarize(results)), { kind: 'ok', state: 'completed' })
    assert.deepEqual(await store.commit(id, 0, 'second-replica', results, 1, 0, summarize(results)), { kind: 'done' })
    assert.equal((await store.get(id))?.counts.updated, 1)
  })
})
