import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { startGateway, request, syncCalls, TEST_BACKEND, type TestGateway } from '../helpers/gateway.js'
import type { Knob } from '../../simulator/index.js'

const rest = TEST_BACKEND === 'rest'

// Three new opportunities by external key (REST creates opportunities by external key only), new
// keys for every request so that one an earlier knob let through does not turn an insert into a skip.
let sent = 0
const body = () => ({ operation: 'insert', opportunities: ['a', 'b', 'c'].map((name) => ({ externalKey: { name: 'opportunityId', value: `fault-${name}-${sent++}` }, name })) })

// One attempt per call, so each knob maps to exactly one answer; retries have their own tests.
const env = { MARKETO_MAX_ATTEMPTS: '1', MARKETO_CALL_TIMEOUT_MS: '400', REQUEST_TIMEOUT_MS: '2000', BREAKER_FAILURE_THRESHOLD: '1000' }

// Updates of 64, 4 and 7: by id on SOAP, by their external keys on REST (which has no integer ids).
const byId = rest
  ? { operation: 'update', opportunities: [{ externalKey: { name: 'opportunityId', value: 'Opportunity_3' }, name: 'a' }, { externalKey: { name: 'opportunityId', value: 'Opportunity_1' }, name: 'b' }, { externalKey: { name: 'opportunityId', value: 'Opportunity_2' }, name: 'c' }] }
  : { operation: 'update', opportunities: [{ id: 64, name: 'a' }, { id: 4, name: 'b' }, { id: 7, name: 'c' }] }

// `restUpstreamCode`: the simulator's REST face answers a SOAP fault knob with its REST twin
// (20014/20013 → 603, 20023 → 606, 20024 → 615, 10001/20011 → 611, others → 1003), which is the
// upstreamCode on the REST backend. `restResent`: see the 20016 row.
const table: Array<{ body?: unknown, knob: Knob, status: number, code: string, objects: 'not_applied' | 'unknown', upstreamCode?: number, restUpstreamCode?: number, restResent?: true, retryAfter?: boolean }> = [
  { knob: { fault: 20014 }, status: 502, code: 'UPSTREAM_AUTH', objects: 'not_applied', upstreamCode: 20014, restUpstreamCode: 603 },
  { knob: { fault: 20013 }, status: 502, code: 'UPSTREAM_AUTH', objects: 'not_applied', upstreamCode: 20013, restUpstreamCode: 603 },
  { knob: { fault: 20016 }, status: 502, code: 'UPSTREAM_CLOCK_SKEW', objects: 'not_applied', upstreamCode: 20016, restResent: true },
  { knob: { fault: 20023 }, status: 429, code: 'UPSTREAM_RATE_LIMITED', objects: 'not_applied', upstreamCode: 20023, restUpstreamCode: 606, retryAfter: true },
  { knob: { fault: 20024 }, status: 503, code: 'UPSTREAM_CONCURRENCY_LIMITED', objects: 'not_applied', upstreamCode: 20024, restUpstreamCode: 615, retryAfter: true },
  { knob: { fault: 10001 }, status: 502, code: 'UPSTREAM_INTERNAL', objects: 'not_applied', upstreamCode: 10001, restUpstreamCode: 611 },
  { knob: { fault: 20011 }, status: 502, code: 'UPSTREAM_INTERNAL', objects: 'not_applied', upstreamCode: 20011, restUpstreamCode: 611 },
  { knob: { fault: 20110 }, status: 502, code: 'UPSTREAM_REJECTED', objects: 'not_applied', upstreamCode: 20110, restUpstreamCode: 1003 },
  { knob: { fault: 20012 }, status: 502, code: 'UPSTREAM_REJECTED', objects: 'not_applied', upstreamCode: 20012, restUpstreamCode: 1003 },
  { knob: { html502: true }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { empty200: true }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { truncated: true }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { statusCount: 'fewer' }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { statusCount: 'more' }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { body: byId, knob: { unmatchedId: true }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { resetAfterApply: true }, status: 502, code: 'UPSTREAM_CONNECTION_LOST', objects: 'unknown' },
  { knob: { latencyMs: 1_000 }, status: 504, code: 'UPSTREAM_TIMEOUT', objects: 'unknown' },
  { knob: { dribble: { chunkBytes: 20, intervalMs: 100 } }, status: 504, code: 'UPSTREAM_TIMEOUT', objects: 'unknown' },
  // The REST face answers every hostile knob with a small XML body where JSON is due.
  { knob: { hostile: 'doctype-xxe' }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { hostile: 'entity-expansion' }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { hostile: 'deep-nesting', depth: 10_000 }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' },
  { knob: { hostile: 'oversized', sizeBytes: 6 * 1024 * 1024 }, status: 502, code: 'UPSTREAM_PROTOCOL_ERROR', objects: 'unknown' }
]

/**
 * REST: the simulator's REST face has no dribble knob, so a gateway of its own talks to it through
 * this hop, which passes token answers whole and sends every REST answer in chunks of chunkBytes
 * every intervalMs.
 */
async function dribblingGateway (dribble: { chunkBytes: number, intervalMs: number }): Promise<{ gw: TestGateway, close: () => Promise<void> }> {
  // Where the hop forwards to: the simulator the gateway below starts.
  const target: { url?: URL } = {}
  const hop = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const to = target.url as URL
      const up = http.request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: { ...req.headers, host: to.host } }, (upRes) => {
        const parts: Buffer[] = []
        upRes.on('data', (c: Buffer) => parts.push(c))
        upRes.on('end', () => {
          const all = Buffer.concat(parts)
          res.writeHead(upRes.statusCode ?? 502, upRes.headers)
          if (!(req.url ?? '').startsWith('/rest/')) { res.end(all); return }
          let at = 0
          const next = (): void => {
            if (res.destroyed) return
            if (at >= all.length) { res.end(); return }
            res.write(all.subarray(at, at + dribble.chunkBytes))
            at += dribble.chunkBytes
            setTimeout(next, dribble.intervalMs).unref()
          }
          next()
        })
      })
      up.on('error', () => res.destroy())
      up.end(Buffer.concat(chunks))
    })
  })
  await new Promise<void>((resolve) => hop.listen(0, '127.0.0.1', resolve))
  const gw = await startGateway({ env: { ...env, MARKETO_REST_ENDPOINT: `http://127.0.0.1:${(hop.address() as { port: number }).port}` } })
  target.url = new URL(gw.sim.restEndpoint)
  return {
    gw,
    async close () {
      await gw.close()
      hop.closeAllConnections()
      await new Promise((resolve) => hop.close(resolve))
    }
  }
}

describe('fault and transport mapping', () => {
  let shared: TestGateway
  before(async () => { shared = await startGateway({ env }) })
  after(async () => { await shared.close() })

  for (const c of table) {
    it(`${JSON.stringify(c.knob)} → ${c.status} ${c.code}, objects ${c.objects}`, async () => {
      const dribbling = rest && c.knob.dribble !== undefined ? await dribblingGateway(c.knob.dribble) : undefined
      const gw = dribbling?.gw ?? shared
      try {
        const calls = syncCalls(gw.sim)
        if (dribbling === undefined) gw.sim.knobs.enqueue(c.knob)
        const started = Date.now()
        const res = await request(`${gw.url}/opportunities`, { body: c.body ?? body() })
        if (rest && c.restResent === true) {
          // REST has no request signature whose timestamp could be skewed: the REST face answers
          // this fault as 602 (access token expired), on which the gateway fetches a new token and
          // resends the call once.
          assert.equal(res.status, 200, res.text.slice(0, 300))
          assert.deepEqual(res.body.results.map((r: { index: number, status: string }) => [r.index, r.status]), [[0, 'created'], [1, 'created'], [2, 'created']])
          assert.equal(syncCalls(gw.sim), calls + 2, 'the rejected call and its resend')
          assert.equal(gw.sim.ledger.at(-2)?.rest?.errorCode, '602')
          return
        }
        assert.equal(res.status, c.status, res.text.slice(0, 300))
        assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
        assert.equal(res.body.code, c.code)
        assert.equal(res.body.status, c.status)
        assert.equal(res.body.upstreamCode, rest ? c.restUpstreamCode : c.upstreamCode)
        assert.deepEqual(res.body.summary, { total: 3, created: 0, updated: 0, unchanged: 0, skipped: 0, failed: 0, deleted: 0, unknown: c.objects === 'unknown' ? 3 : 0, notApplied: c.objects === 'not_applied' ? 3 : 0 })
        assert.deepEqual(res.body.results.map((r: { index: number, status: string }) => [r.index, r.status]), [[0, c.objects], [1, c.objects], [2, c.objects]])
        if (c.retryAfter === true) assert.match(res.headers.get('retry-after') ?? '', /^\d+$/)
        // Nothing of the upstream answer leaks: no XML, no URL, no stack.
        assert.doesNotMatch(res.text, /<\?xml|Envelope|127\.0\.0\.1|soap\/mktows|at .*\.ts:\d+/)
        assert.equal(syncCalls(gw.sim), calls + 1, 'exactly one upstream call')
        assert.ok(Date.now() - started < 1_500, 'bounded time')
      } finally {
        await dribbling?.close()
      }
    })
  }

  it('the next request after a bad answer succeeds', async () => {
    const res = await request(`${shared.url}/opportunities`, { body: body() })
    assert.equal(res.status, 200)
    assert.equal(res.body.summary.created, 3)
  })
})

describe('unreachable Marketo', () => {
  it('connection refused → 503 UPSTREAM_UNAVAILABLE with Retry-After, objects not_applied', async () => {
    // Nothing listens on port 9 (discard): the SOAP endpoint, or on REST the REST endpoint, whose
    // token call is then the one refused.
    const gw = await startGateway({ env: { ...env, ...(rest ? { MARKETO_REST_ENDPOINT: 'http://127.0.0.1:9' } : { MARKETO_SOAP_ENDPOINT: 'http://127.0.0.1:9/soap/mktows/2_3' }) } })
    try {
      const res = await request(`${gw.url}/opportunities`, { body: body() })
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
