import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, syncCalls, type TestGateway } from '../helpers/gateway.js'
import type { Knob } from '../../src/simulator/index.js'

const body = { operation: 'insert', opportunities: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }

// One attempt per call, so each knob maps to exactly one answer; retries have their own tests.
const env = { MARKETO_MAX_ATTEMPTS: '1', MARKETO_CALL_TIMEOUT_MS: '400', REQUEST_TIMEOUT_MS: '2000', BREAKER_FAILURE_THRESHOLD: '1000' }

const byId = { operation: 'update', opportunities: [{ id: 64, name: 'a' }, { id: 4, name: 'b' }, { id: 7, name: 'c' }] }

const table: Array<{ body?: unknown, knob: Knob, status: number, code: string, objects: 'not_applied' | 'unknown', upstreamCode?: number, retryAfter?: boolean }> = [
  { knob: { fault: 20014 }, status: 502, code: 'UPSTREAM_AUTH', objects: 'not_applied', upstreamCode: 20014 },
  { knob: { fault: 20013 }, status: 502, code: 'UPSTREAM_AUTH', objects: 'not_applied', upstreamCode: 20013 },
  { knob: { fault: 20016 }, status: 502, code: 'UPSTREAM_CLOCK_SKEW', objects: 'not_applied', upstreamCode: 20016 },
  { knob: { fault: 20023 }, status: 429, code: 'UPSTREAM_RATE_LIMITED', objects: 'not_applied', upstreamCode: 20023, retryAfter: true },
  { knob: { fault: 20024 }, status: 503, code: 'UPSTREAM_CONCURRENCY_LIMITED', objects: 'not_applied', upstreamCode: 20024, retryAfter: true },
  { knob: { fault: 10001 }, status: 502, code: 'UPSTREAM_INTERNAL', objects: 'not_applied', upstreamCode: 10001 },
  { knob: { fault: 20011 }, status: 502, code: 'UPSTREAM_INTERNAL', objects: 'not_applied', upstreamCode: 20011 },
  { knob: { fault: 20110 }, status: 502, code: 'UPSTREAM_REJECTED', objects: 'not_applied', upstreamCode: 20110 },
  { knob: { fault: 20012 }, status: 502, code: 'UPSTREAM_REJECTED', objects: 'not_applied', upstreamCode: 20012 },
  { knob: { html502: true }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { empty200: true }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { truncated: true }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { statusCount: 'fewer' }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { statusCount: 'more' }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { body: byId, knob: { unmatchedId: true }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { resetAfterApply: true }, status: 502, code: 'UPSTREAM_CONNECTION_LOST', objects: 'unknown' },
  { knob: { latencyMs: 1_000 }, status: 504, code: 'UPSTREAM_TIMEOUT', objects: 'unknown' },
  { knob: { dribble: { chunkBytes: 20, intervalMs: 100 } }, status: 504, code: 'UPSTREAM_TIMEOUT', objects: 'unknown' },
  { knob: { hostile: 'doctype-xxe' }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { hostile: 'entity-expansion' }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { hostile: 'deep-nesting', depth: 10_000 }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { hostile: 'oversized', sizeBytes: 6 * 1024 * 1024 }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' }
]

describe('fault and transport mapping', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ env }) })
  after(async () => { await gw.close() })

  for (const c of table) {
    it(`${JSON.stringify(c.knob)} → ${c.status} ${c.code}, objects ${c.objects}`, async () => {
      const calls = syncCalls(gw.sim)
      gw.sim.knobs.enqueue(c.knob)
      const started = Date.now()
      const res = await request(`${gw.url}/opportunities`, { body: c.body ?? body })
      assert.equal(res.status, c.status, res.text.slice(0, 300))
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
      assert.equal(res.body.code, c.code)
      assert.equal(res.body.status, c.status)
      assert.equal(res.body.upstreamCode, c.upstreamCode)
      assert.deepEqual(res.body.summary, { total: 3, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0, deleted: 0, unknown: c.objects === 'unknown' ? 3 : 0, notApplied: c.objects === 'not_applied' ? 3 : 0 })
      assert.deepEqual(res.body.results.map((r: { index: number, status: string }) => [r.index, r.status]), [[0, c.objects], [1, c.objects], [2, c.objects]])
      if (c.retryAfter === true) assert.match(res.headers.get('retry-after') ?? '', /^\d+$/)
      // Nothing of the upstream answer leaks: no XML, no URL, no stack.
      assert.doesNotMatch(res.text, /<\?xml|Envelope|127\.0\.0\.1|soap\/mktows|at .*\.ts:\d+/)
      assert.equal(syncCalls(gw.sim), calls + 1, 'exactly one upstream call')
      assert.ok(Date.now() - started < 1_500, 'bounded time')
    })
  }

  it('the next request after a bad answer succeeds', async () => {
    const res = await request(`${gw.url}/opportunities`, { body })
    assert.equal(res.status, 200)
    assert.equal(res.body.summary.created, 3)
  })
})

describe('unreachable Marketo', () => {
  it('connection refused → 503 UPSTREAM_UNAVAILABLE with Retry-After, objects not_applied', async () => {
    const gw = await startGateway({ env: { ...env, MARKETO_SOAP_ENDPOINT: 'http://127.0.0.1:9/soap/mktows/2_3' } })
    try {
      const res = await request(`${gw.url}/opportunities`, { body })
      assert.equal(res.status, 503)
      assert.equal(res.body.code, 'UPSTREAM_UNAVAILABLE')
      assert.match(res.headers.get('retry-after') ?? '', /^\d+$/)
      assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['not_applied', 'not_applied', 'not_applied'])
      const ready = await request(`${gw.url}/readyz`)
      assert.equal(ready.status, 200)
    } finally {
      await gw.close()
    }
  })
})
