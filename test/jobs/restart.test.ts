import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startRedis, type TestRedis } from '../helpers/redis.js'
import { hashKey, TEST_API_KEY } from '../helpers/gateway.js'
import { startSimulator, type RunningSimulator } from '../../simulator/index.js'
import { postNdjson, spawnGateway, streamResults, waitForJob, type GatewayProcess } from './helpers.js'

// J2: the replica sending a job's chunks is killed with SIGKILL in the middle of its Marketo
// calls; another gateway process, started afterwards, takes the chunks over once their lock
// expires and finishes the job. The chunks in flight at the kill are INSERTs with external keys:
// they are read back, never sent blindly a second time.
describe('bulk jobs survive kill -9 of the replica running them', () => {
  let redis: TestRedis
  let sim: RunningSimulator
  const gateways: GatewayProcess[] = []

  before(async () => {
    redis = await startRedis()
    sim = await startSimulator({ host: '127.0.0.1', port: 0, limits: { rateLimit: { calls: 100, windowMs: 2_000 }, maxConcurrent: 10 } })
  })
  after(async () => {
    for (const g of gateways) await g.kill()
    await sim?.close()
    await redis?.stop()
  })

  const env = (): Record<string, string> => ({
    REDIS_URL: redis.url,
    MARKETO_SOAP_ENDPOINT: sim.endpoint,
    MARKETO_USER_ID: sim.credentials.userId,
    MARKETO_ENCRYPTION_KEY: sim.credentials.encryptionKey,
    API_KEYS: `test:${hashKey(TEST_API_KEY)}`,
    MARKETO_RATE_LIMIT_CALLS: '100',
    MARKETO_RATE_LIMIT_WINDOW_MS: '2000',
    MARKETO_CALL_TIMEOUT_MS: '1500',
    REQUEST_TIMEOUT_MS: '10000',
    JOB_LOCK_MS: '3000'
  })

  /**
   * Replica A runs a 3,000-object INSERT job and is killed with SIGKILL while chunks are in flight;
   * replica B (running beside it by then, or started after the kill) finishes the job.
   */
  async function killMidJob (prefix: string, bRunsAlready: boolean, latencyMs: number): Promise<void> {
    const a = await spawnGateway(env())
    gateways.push(a)
    let b: GatewayProcess | undefined
    // Calls take a while, so the kill lands while chunks are in flight.
    sim.knobs.setDefault({ latencyMs })
    const n = 3_000
    const lines = Array.from({ length: n }, (_, i) => ({ externalKey: { name: 'opportunityId', value: `${prefix}-${i}` }, name: `${prefix} ${i}` }))
    const res = await postNdjson(a.url, lines, 'kind=opportunities&operation=insert')
    assert.equal(res.status, 202, res.text)
    const id = res.body.id as string
    await waitForJob(a.url, id, (j) => j.processed >= 500 && j.inFlightChunks > 0)
    if (bRunsAlready) {
      // B joins while A keeps every chunk slot busy (calls take a second, B takes about as long to
      // start): both run the job, and A still has chunks in flight when it is killed right after.
      b = await spawnGateway(env())
      gateways.push(b)
    }
    const sentByA = sim.ledger.filter((e) => e.objects?.some((o) => o.externalKey?.value.startsWith(`${prefix}-`) === true)).length
    await a.kill()
    const sentBeforeKill = sim.ledger.length
    // The slow calls were for the kill to land mid-call; the reconciliation (read-backs one key
    // at a time on SOAP) and the rest of the job need no more of them.
    sim.knobs.setDefault({ latencyMs: 20 })

    if (b === undefined) {
      b = await spawnGateway(env())
      gateways.push(b)
    }
    const other = b
    const job = await waitForJob(other.url, id).catch((err: Error) => {
      throw new Error(`${err.message}\n--- gateway B ---\n${other.output.filter((l) => !l.includes('"msg":"request completed"') && !l.includes('incoming request')).slice(-40).join('\n')}`)
    })
    sim.knobs.setDefault(undefined)
    assert.equal(job.state, 'completed', JSON.stringify(job))
    assert.ok(job.reconciled > 0, `chunks in flight at the kill were reconciled: ${JSON.stringify(job)}`)
    assert.ok(sim.ledger.length > sentBeforeKill, 'the other gateway sent the rest')
    assert.ok(sentByA < n / 100, `the kill came before the job was sent: ${sentByA} calls`)
    assert.equal(job.counts.failed + job.counts.notApplied + job.counts.skipped, 0, JSON.stringify(job.counts))

    const stored = new Map<string, number[]>()
    for (const o of sim.store.opportunities.values()) {
      const key = o.fields.opportunityId
      if (typeof key === 'string' && key.startsWith(`${prefix}-`)) stored.set(key, [...(stored.get(key) ?? []), o.id])
    }
    const results = await streamResults(other.url, id)
    assert.equal(results.length, n)
    results.forEach((r, i) => {
      assert.equal(r.index, i)
      assert.equal(r.externalKey.value, `${prefix}-${i}`)
      const ids = stored.get(`${prefix}-${i}`) ?? []
      assert.ok(ids.length <= 1, `${prefix}-${i} created at most once: ${ids.join(', ')}`)
      if (r.status === 'created') assert.deepEqual(ids, [r.id])
      else assert.equal(r.status, 'unknown', JSON.stringify(r))
    })
    assert.equal(stored.size, n, 'every object is in Marketo')
    assert.deepEqual(sim.stats.faultsByCode, {})
  }

  it('J2: completed by another gateway process started after the kill (every replica restarted); every object created exactly once; re-delivered INSERT chunks reconciled', async () => {
    await killMidJob('J2', false, 300)
  })

  it('J2b: two replicas run the job; the one killed mid-call leaves its chunks to the other, which completes the job; every object created exactly once', async () => {
    await killMidJob('J2b', true, 1_000)
  })
})
