import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, syncCalls, type TestGateway } from '../helpers/gateway.js'
import { toGuid } from '../../simulator/index.js'

// Issue #13: one admission, one quota state, one retry budget and one request deadline for every
// Marketo call, whatever the operation or the backend.

const opp = (value: string): Record<string, unknown> => ({ externalKey: { name: 'opportunityId', value }, name: value })

async function warm (gw: TestGateway): Promise<void> {
  const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp(`warm-${Math.random()}`)] } })
  assert.equal(res.status, 200, res.text)
}

describe('one seam for every Marketo call', () => {
  it('REST: a delete mixing a marketoGUID and an integer id answers 400 before any call', async () => {
    const gw = await startGateway({ backend: 'rest' })
    try {
      await warm(gw)
      const before = gw.sim.ledger.length
      const res = await request(`${gw.url}/mobjects/delete`, { body: { objects: [{ type: 'Opportunity', marketoGUID: toGuid('opportunity', 4) }, { type: 'Opportunity', id: 5 }] } })
      assert.equal(res.status, 400, res.text)
      assert.equal(res.body.code, 'VALIDATION_FAILED')
      assert.ok(res.body.errors.some((e: { path: string }) => /\/objects\/1\b/.test(e.path)), JSON.stringify(res.body.errors))
      assert.equal(gw.sim.ledger.length, before, 'no Marketo call')
      assert.ok(gw.sim.store.opportunities.has(4), 'nothing deleted')
    } finally {
      await gw.close()
    }
  })

  it('REST: after a 607 the next request is refused with 607, not a SOAP code, and nothing is sent', async () => {
    const gw = await startGateway({ backend: 'rest', env: { COALESCE_WINDOW_MS: '0' } })
    try {
      await warm(gw)
      gw.sim.knobs.enqueue({ fault: 607 })
      const first = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('quota-1')] } })
      assert.equal(first.status, 429, first.text)
      assert.equal(first.body.upstreamCode, 607)
      const before = gw.sim.ledger.length
      const next = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('quota-2')] } })
      assert.equal(next.status, 429)
      assert.equal(next.body.code, 'UPSTREAM_QUOTA_EXCEEDED')
      assert.equal(next.body.upstreamCode, 607)
      assert.match(next.body.detail, /607/)
      assert.equal(gw.sim.ledger.length, before)
    } finally {
      await gw.close()
    }
  })

  it('a read answered 20015 blocks the next write', async () => {
    const gw = await startGateway({ backend: 'soap' })
    try {
      gw.sim.knobs.enqueue({ fault: 20015 })
      const read = await request(`${gw.url}/opportunities/64`)
      assert.equal(read.status, 429, read.text)
      assert.equal(read.body.upstreamCode, 20015)
      const calls = syncCalls(gw.sim)
      const write = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('after-quota')] } })
      assert.equal(write.status, 429, write.text)
      assert.equal(write.body.code, 'UPSTREAM_QUOTA_EXCEEDED')
      assert.equal(syncCalls(gw.sim), calls, 'the write was not sent')
    } finally {
      await gw.close()
    }
  })

  it('reads and writes share one retry budget', async () => {
    const gw = await startGateway({ backend: 'soap' })
    try {
      assert.equal(gw.app.marketo.budget, (gw.app.marketo.executor as unknown as { opts: { budget: unknown } }).opts.budget)
      // The floor is 3 retries per 10 s for the whole process: three reads use it up, then a write gets none.
      gw.sim.knobs.setDefault({ fault: 20011 })
      for (let i = 0; i < 3; i++) await request(`${gw.url}/opportunities/64`)
      const before = syncCalls(gw.sim)
      const write = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('budget')] } })
      gw.sim.knobs.clear()
      assert.equal(write.status, 502)
      assert.equal(syncCalls(gw.sim) - before, 1, 'no retry left for the write')
    } finally {
      await gw.close()
    }
  })

  it('a request of several steps (custom-field check, then the write) answers within REQUEST_TIMEOUT_MS', async () => {
    const gw = await startGateway({ backend: 'soap', env: { VALIDATE_CUSTOM_FIELDS: 'true', DESCRIBE_CACHE_TTL_MS: '0', REQUEST_TIMEOUT_MS: '1200', MARKETO_CALL_TIMEOUT_MS: '1000', MARKETO_MIN_CALL_MS: '300', COALESCE_WINDOW_MS: '0' } })
    try {
      gw.sim.knobs.enqueue({ latencyMs: 700 })
      gw.sim.knobs.enqueue({ latencyMs: 900 })
      const started = Date.now()
      const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [{ ...opp('two-steps'), customFields: { ProductLine: 'Tea' } }] } })
      const elapsed = Date.now() - started
      assert.ok(elapsed < 1_200 + 300, `answered after ${elapsed} ms`)
      assert.equal(res.status, 504, res.text)
    } finally {
      await gw.close()
    }
  })
})
