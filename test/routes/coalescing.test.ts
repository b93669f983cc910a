import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, storeId, syncCalls, TEST_BACKEND, type TestGateway } from '../helpers/gateway.js'

const one = (value: string) => ({ operation: 'insert', opportunities: [{ externalKey: { name: 'opportunityId', value }, name: value }] })

describe('write coalescing', () => {
  const gateways: TestGateway[] = []
  after(async () => { await Promise.all(gateways.map((g) => g.close())) })
  const start = async (env: Record<string, string>) => {
    const gw = await startGateway({ env })
    gateways.push(gw)
    return gw
  }

  it('concurrent single-object writes share calls; each caller gets exactly its own status', async () => {
    const gw = await start({ COALESCE_WINDOW_MS: '20' })
    const calls = syncCalls(gw.sim)
    const responses = await Promise.all(Array.from({ length: 60 }, (_, i) => request(`${gw.url}/opportunities`, { body: one(`co-${i}`) })))
    const used = syncCalls(gw.sim) - calls
    assert.ok(used <= 15, `60 requests used ${used} calls`)
    responses.forEach((res, i) => {
      assert.equal(res.status, 200)
      assert.deepEqual(res.body.summary.total, 1)
      const r = res.body.results[0]
      assert.equal(r.index, 0)
      assert.equal(r.status, 'created')
      assert.deepEqual(r.externalKey, { name: 'opportunityId', value: `co-${i}` })
      assert.equal(gw.sim.store.opportunities.get(storeId('opportunity', r))?.fields.Name, `co-${i}`)
    })
    const audits = gw.logs.filter((l) => l.includes('"channel":"audit"') && l.includes('co-'))
    assert.equal(audits.length, 60, 'one audit line per request')
  })

  it('a request\'s objects stay together and in order inside the shared call', async () => {
    const gw = await start({ COALESCE_WINDOW_MS: '20' })
    const before = gw.sim.ledger.length
    const bodies = Array.from({ length: 10 }, (_, r) => ({ operation: 'insert', opportunities: [0, 1, 2].map((k) => ({ externalKey: { name: 'opportunityId', value: `ord-${r}-${k}` }, name: `ord-${r}-${k}` })) }))
    const responses = await Promise.all(bodies.map((body) => request(`${gw.url}/opportunities`, { body })))
    responses.forEach((res, r) => {
      assert.deepEqual(res.body.results.map((x: { index: number, externalKey: { value: string } }) => [x.index, x.externalKey.value]), [[0, `ord-${r}-0`], [1, `ord-${r}-1`], [2, `ord-${r}-2`]])
    })
    const sent = gw.sim.ledger.slice(before).flatMap((e) => e.objects ?? []).map((o) => o.externalKey?.value ?? '')
    assert.ok(gw.sim.ledger.length - before < 10)
    for (let r = 0; r < 10; r++) {
      const i = sent.indexOf(`ord-${r}-0`)
      assert.deepEqual(sent.slice(i, i + 3), [`ord-${r}-0`, `ord-${r}-1`, `ord-${r}-2`])
    }
  })

  it('a call-level rejection of a shared call is isolated: each caller is re-sent alone', async () => {
    const gw = await start({ COALESCE_WINDOW_MS: '30' })
    gw.sim.knobs.enqueue({ fault: 20110 })
    const before = gw.sim.ledger.length
    const responses = await Promise.all(Array.from({ length: 5 }, (_, i) => request(`${gw.url}/opportunities`, { body: one(`iso-${i}`) })))
    assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200, 200])
    const entries = gw.sim.ledger.slice(before)
    if (TEST_BACKEND === 'rest') {
      // The REST face answers this SOAP fault as its REST twin, 1003, before reading the records.
      assert.equal(entries[0].rest?.errorCode, '1003')
      assert.equal((entries[0].rest?.body as { input: unknown[] }).input.length, 5)
    } else {
      assert.equal(entries[0].faultCode, 20110)
      assert.equal(entries[0].objects?.length, 5)
    }
    assert.deepEqual(entries.slice(1).map((e) => e.objects?.length), [1, 1, 1, 1, 1])
  })

  it('transport failures of a shared call are reported to every caller as unknown', async () => {
    const gw = await start({ COALESCE_WINDOW_MS: '30', MARKETO_MAX_ATTEMPTS: '1' })
    gw.sim.knobs.enqueue({ resetAfterApply: true })
    const responses = await Promise.all(Array.from({ length: 4 }, (_, i) => request(`${gw.url}/opportunities`, { body: one(`lost-${i}`) })))
    for (const res of responses) {
      assert.equal(res.status, 502)
      assert.equal(res.body.results[0].status, 'unknown')
    }
  })

  it('COALESCE_WINDOW_MS=0 turns coalescing off: one call per request', async () => {
    const gw = await start({ COALESCE_WINDOW_MS: '0' })
    const calls = syncCalls(gw.sim)
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => request(`${gw.url}/opportunities`, { body: one(`off-${i}`) })))
    assert.ok(responses.every((r) => r.status === 200))
    assert.equal(syncCalls(gw.sim) - calls, 20)
  })
})
