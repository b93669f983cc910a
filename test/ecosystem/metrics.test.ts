import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { register as globalRegistry } from 'prom-client'
import { startGateway, request, type TestGateway } from '../helpers/gateway.js'

// The value of one series, 0 when it does not exist yet (a counter that never moved).
function sample (text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null || m[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3])
  }
  return 0
}

const env = { AUTH_DISABLED: 'i-understand-the-risk', MARKETO_MAX_ATTEMPTS: '1', BREAKER_FAILURE_THRESHOLD: '1000' }

describe('GET /metrics', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ env }) })
  after(async () => { await gw.close() })

  const scrape = async (): Promise<string> => {
    const res = await fetch(`${gw.url}/metrics`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    return res.text()
  }

  it('exposes the gateway, upstream, limiter, breaker and Node process series', async () => {
    const text = await scrape()
    for (const name of [
      'gateway_http_requests_total', 'gateway_http_request_duration_seconds', 'marketo_calls_total', 'marketo_call_duration_seconds',
      'marketo_faults_total', 'marketo_call_objects', 'marketo_call_merged_requests', 'gateway_objects_total', 'gateway_request_objects',
      'gateway_request_marketo_calls', 'marketo_limiter_queue_depth', 'marketo_limiter_in_flight', 'marketo_limiter_rejected_total',
      'marketo_circuit_state', 'process_cpu_user_seconds_total', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes'
    ]) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name)
    }
    assert.equal(sample(text, 'marketo_circuit_state'), 0)
    assert.equal(sample(text, 'marketo_limiter_queue_depth'), 0)
  })

  it('counts requests by route template and status, and upstream calls by operation and outcome', async () => {
    const before = await scrape()
    const route = { method: 'POST', route: '/opportunities', status_code: '200' }
    const ok = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ name: 'm1' }, { name: 'm2' }] } })
    assert.equal(ok.status, 200)
    const patch = await request(`${gw.url}/opportunities/999999`, { method: 'PATCH', body: { stage: 'Negotiation' } })
    assert.equal(patch.status, 404)
    gw.sim.knobs.enqueue({ fault: 20023 })
    const limited = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ name: 'm3' }] } })
    assert.equal(limited.status, 429)
    await request(`${gw.url}/no/such/route`)
    const after = await scrape()

    assert.equal(sample(after, 'gateway_http_requests_total', route), sample(before, 'gateway_http_requests_total', route) + 1)
    // The template, never the id: one series for every opportunity.
    assert.equal(sample(after, 'gateway_http_requests_total', { route: '/opportunities/:id', status_code: '404' }), 1)
    assert.doesNotMatch(after, /route="\/opportunities\/999999"/)
    assert.equal(sample(after, 'gateway_http_requests_total', { route: 'unmatched', status_code: '404' }), 1)
    assert.equal(sample(after, 'gateway_http_request_duration_seconds_count', route), sample(before, 'gateway_http_request_duration_seconds_count', route) + 1)

    const insertOk = { operation: 'INSERT', outcome: 'ok' }
    assert.ok(sample(after, 'marketo_calls_total', insertOk) >= sample(before, 'marketo_calls_total', insertOk) + 1)
    assert.equal(sample(after, 'marketo_calls_total', { operation: 'INSERT', outcome: 'UPSTREAM_RATE_LIMITED' }), 1)
    assert.equal(sample(after, 'marketo_faults_total', { code: '20023' }), 1)
    assert.ok(sample(after, 'marketo_call_duration_seconds_count', insertOk) > sample(before, 'marketo_call_duration_seconds_count', insertOk))
    assert.ok(sample(after, 'marketo_call_objects_sum', { operation: 'INSERT' }) >= sample(before, 'marketo_call_objects_sum', { operation: 'INSERT' }) + 3)
  })

  it('records per-object statuses, batch sizes and calls per request through recordRun', async () => {
    const before = await scrape()
    gw.app.metrics.recordRun('/opportunities/roles', {
      operation: 'INSERT',
      calls: 1,
      summary: { total: 3, created: 2, updated: 0, unchanged: 0, skipped: 0, failed: 1, deleted: 0, unknown: 0, notApplied: 0 }
    })
    gw.app.metrics.recordCoalesce(4)
    const after = await scrape()
    const labels = (status: string) => ({ route: '/opportunities/roles', operation: 'INSERT', status })
    assert.equal(sample(after, 'gateway_objects_total', labels('created')), sample(before, 'gateway_objects_total', labels('created')) + 2)
    assert.equal(sample(after, 'gateway_objects_total', labels('failed')), sample(before, 'gateway_objects_total', labels('failed')) + 1)
    assert.equal(sample(after, 'gateway_request_objects_sum', { route: '/opportunities/roles' }), sample(before, 'gateway_request_objects_sum', { route: '/opportunities/roles' }) + 3)
    assert.equal(sample(after, 'gateway_request_marketo_calls_count', { route: '/opportunities/roles' }), sample(before, 'gateway_request_marketo_calls_count', { route: '/opportunities/roles' }) + 1)
    assert.equal(sample(after, 'marketo_call_merged_requests_sum'), sample(before, 'marketo_call_merged_requests_sum') + 4)
  })

  it('reads the limiter and breaker live at scrape time', async () => {
    const { limiter, breaker } = gw.app.marketo
    const rejectedBefore = sample(await scrape(), 'marketo_limiter_rejected_total')
    limiter.rejected += 2
    // Through the breaker interface: enough transport failures open the circuit.
    for (let i = 0; i < 1_000 && breaker.state !== 'open'; i++) breaker.failure()
    assert.equal(breaker.state, 'open')
    try {
      const text = await scrape()
      assert.equal(sample(text, 'marketo_circuit_state'), 1)
      assert.equal(sample(text, 'marketo_limiter_rejected_total'), rejectedBefore + 2)
    } finally {
      breaker.success()
    }
    assert.equal(sample(await scrape(), 'marketo_circuit_state'), 0)
  })

  it('uses its own registry and stays out of the OpenAPI document', async () => {
    assert.equal(globalRegistry.getSingleMetric('gateway_http_requests_total'), undefined)
    const doc = await request(`${gw.url}/openapi.json`)
    assert.equal(doc.body.paths['/metrics'], undefined)
  })
})
