import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { loadConfig, ConfigError } from '../../src/config.js'
import { startGateway, request, TEST_API_KEY, type TestGateway } from '../helpers/gateway.js'
import { DEMO_ENCRYPTION_KEY, DEMO_REST_CLIENT_SECRET, DEMO_USER_ID } from '../../simulator/index.js'
import { BoundedHttp } from '../../src/upstream/transport.js'
import { TokenCache } from '../../src/backends/rest/token.js'

// OpenTelemetry traces (issue #17, point 2), end to end: a real OTLP/HTTP receiver on 127.0.0.1
// decodes what the gateway exports; the simulator's ledger shows the traceparent each Marketo
// request carried. No timing: spans are read after an explicit flush (or the app's close).

type Attr = string | number | boolean
interface ExportedSpan {
  traceId: string
  spanId: string
  parentSpanId: string
  name: string
  kind: number
  status: { code?: number }
  attributes: Record<string, Attr>
  resource: Record<string, Attr>
}

interface OtlpValue { stringValue?: string, intValue?: number | string, boolValue?: boolean, doubleValue?: number }
const flat = (attrs: Array<{ key: string, value: OtlpValue }> = []): Record<string, Attr> =>
  Object.fromEntries(attrs.map(({ key, value }) => [key, value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.boolValue ?? value.doubleValue ?? '')]))

// A minimal OTLP/HTTP JSON receiver: POST /v1/traces (or any path, recorded).
interface Post { path: string, contentType: string, headers: http.IncomingHttpHeaders, body: string }
async function startReceiver (): Promise<{ url: string, spans: ExportedSpan[], posts: Post[], close (): Promise<void> }> {
  const spans: ExportedSpan[] = []
  const posts: Post[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => { body += c })
    req.on('end', () => {
      posts.push({ path: req.url ?? '', contentType: String(req.headers['content-type']), headers: req.headers, body })
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end()
        return
      }
      const doc = JSON.parse(body) as { resourceSpans: Array<{ resource: { attributes: [] }, scopeSpans: Array<{ spans: Array<Record<string, any>> }> }> }
      for (const rs of doc.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            spans.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind, status: s.status ?? {}, attributes: flat(s.attributes), resource: flat(rs.resource.attributes) })
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return { url: `http://127.0.0.1:${port}`, spans, posts, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT_ID = '00f067aa0ba902b7'
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`
const TRACEPARENT_RE = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/

const opportunity = { operation: 'upsert', opportunities: [{ externalKey: { name: 'opportunityId', value: 'TRACE-1' }, name: 'Traced opportunity', amount: 1234 }] }

const SERVER_KEYS = ['http.request.method', 'http.route', 'url.path', 'url.scheme', 'network.protocol.version', 'http.response.status_code']
const CLIENT_KEYS = ['marketo.operation', 'marketo.objects', 'marketo.attempt', 'marketo.outcome']

function logLinesOf (gw: TestGateway, reqId: string): Array<Record<string, unknown>> {
  return gw.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === reqId)
}

for (const backend of ['soap', 'rest'] as const) {
  describe(`tracing on (${backend} backend)`, () => {
    let receiver: Awaited<ReturnType<typeof startReceiver>>
    let gw: TestGateway
    before(async () => {
      receiver = await startReceiver()
      gw = await startGateway({ backend, env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'gw-under-test', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test' } })
    })
    after(async () => {
      await gw.close()
      await receiver.close()
    })

    it('makes the request span a child of the caller\'s traceparent, and each Marketo call a child of it', async () => {
      const res = await request(`${gw.url}/opportunities`, { method: 'POST', body: opportunity, headers: { traceparent: TRACEPARENT, 'x-request-id': `traced-${backend}` } })
      assert.equal(res.status, 200, res.text)
      assert.ok(gw.app.printPlugins().includes('tracing'))
      await gw.app.tracing!.flush()
      assert.ok(receiver.posts.every((p) => p.path === '/v1/traces' && p.contentType.startsWith('application/json')), JSON.stringify(receiver.posts.map((p) => p.path)))

      const server = receiver.spans.find((s) => s.kind === 2 && s.attributes['http.route'] === '/opportunities')
      assert.ok(server, JSON.stringify(receiver.spans.map((s) => s.name)))
      assert.equal(server.traceId, TRACE_ID)
      assert.equal(server.parentSpanId, PARENT_ID)
      assert.equal(server.name, 'POST /opportunities')
      assert.deepEqual(server.attributes, {
        'http.request.method': 'POST', 'http.route': '/opportunities', 'url.path': '/opportunities', 'url.scheme': 'http', 'network.protocol.version': '1.1', 'http.response.status_code': 200
      })
      assert.equal(server.resource['service.name'], 'gw-under-test')
      assert.equal(server.resource['deployment.environment'], 'test')

      const clients = receiver.spans.filter((s) => s.kind === 3 && s.parentSpanId === server.spanId)
      assert.ok(clients.length >= 1, JSON.stringify(receiver.spans))
      const operation = backend === 'soap' ? 'UPSERT' : 'syncOpportunities'
      const sync = clients.find((s) => s.attributes['marketo.operation'] === operation)
      assert.ok(sync, JSON.stringify(clients))
      assert.equal(sync.traceId, TRACE_ID)
      assert.equal(sync.name, `marketo ${operation}`)
      assert.deepEqual(sync.attributes, { 'marketo.operation': operation, 'marketo.objects': 1, 'marketo.attempt': 1, 'marketo.outcome': 'ok' })
      assert.notEqual(sync.status.code, 2)

      // The simulator received the Marketo-call span as the parent of its work.
      const sent = gw.sim.ledger.map((e) => e.traceparent).filter((t): t is string => t !== undefined)
      assert.ok(sent.length >= 1, JSON.stringify(gw.sim.ledger.map((e) => e.operation)))
      for (const tp of sent) {
        const m = TRACEPARENT_RE.exec(tp)
        assert.ok(m, tp)
        assert.equal(m[1], TRACE_ID)
        assert.equal(m[3], '01')
        assert.ok(clients.some((c) => c.spanId === m[2]), `${tp} names no Marketo-call span`)
      }
      assert.ok(sent.includes(`00-${TRACE_ID}-${sync.spanId}-01`))

      // Log lines of the request carry the trace, from the first ("incoming request") on.
      const lines = logLinesOf(gw, `traced-${backend}`)
      assert.ok(lines.some((l) => l.msg === 'incoming request') && lines.some((l) => l.msg === 'request completed'), JSON.stringify(lines))
      for (const line of lines) {
        assert.equal(line.trace_id, TRACE_ID, JSON.stringify(line))
        assert.equal(line.span_id, server.spanId, JSON.stringify(line))
      }

      // Nothing the caller sent, no credential: only the listed attribute keys, no body value.
      const exported = receiver.posts.map((p) => p.body).join('\n')
      for (const secret of [TEST_API_KEY, DEMO_ENCRYPTION_KEY, DEMO_USER_ID, DEMO_REST_CLIENT_SECRET, 'Traced opportunity', 'TRACE-1', 'authorization', 'Bearer']) {
        assert.ok(!exported.includes(secret), `exported spans contain ${secret}`)
      }
      for (const s of receiver.spans) {
        for (const key of Object.keys(s.attributes)) assert.ok([...SERVER_KEYS, ...CLIENT_KEYS, 'marketo.code', 'error.type'].includes(key), key)
      }
    })

    it('starts a new trace without a traceparent, and propagates it', async () => {
      gw.sim.reset()
      receiver.spans.length = 0
      const res = await request(`${gw.url}/opportunities`, { method: 'POST', body: opportunity, headers: { 'x-request-id': `untraced-caller-${backend}` } })
      assert.equal(res.status, 200, res.text)
      await gw.app.tracing!.flush()
      const server = receiver.spans.find((s) => s.kind === 2 && s.attributes['http.route'] === '/opportunities')
      assert.ok(server)
      assert.equal(server.parentSpanId, '')
      assert.notEqual(server.traceId, TRACE_ID)
      const tp = gw.sim.ledger.map((e) => e.traceparent).find((t) => t !== undefined)
      assert.equal(TRACEPARENT_RE.exec(tp ?? '')?.[1], server.traceId)
      assert.equal(logLinesOf(gw, `untraced-caller-${backend}`)[0].trace_id, server.traceId)
    })

    it('records each attempt: a failed one with its outcome and Marketo code, then the retry', async () => {
      gw.sim.reset()
      receiver.spans.length = 0
      // A clock-skew fault is retried at once with a new signature (SOAP) / its REST twin.
      gw.sim.knobs.enqueue({ fault: backend === 'soap' ? 20016 : 606 })
      const res = await request(`${gw.url}/opportunities`, { method: 'POST', body: opportunity, headers: { traceparent: TRACEPARENT } })
      await gw.app.tracing!.flush()
      const clients = receiver.spans.filter((s) => s.kind === 3).sort((a, b) => Number(a.attributes['marketo.attempt']) - Number(b.attributes['marketo.attempt']))
      const failed = clients.find((s) => s.attributes['marketo.code'] !== undefined)
      assert.ok(failed, JSON.stringify(clients))
      assert.equal(failed.status.code, 2)
      assert.equal(failed.attributes['error.type'], failed.attributes['marketo.outcome'])
      assert.notEqual(failed.attributes['marketo.outcome'], 'ok')
      assert.equal(res.status, 200, res.text)
      const retry = clients.find((s) => s.attributes['marketo.attempt'] === Number(failed.attributes['marketo.attempt']) + 1)
      assert.ok(retry, JSON.stringify(clients))
      assert.equal(retry.attributes['marketo.outcome'], 'ok')
      assert.equal(retry.parentSpanId, failed.parentSpanId)
      assert.notEqual(retry.spanId, failed.spanId)
      // Each attempt sent its own span as the parent.
      const sent = gw.sim.ledger.map((e) => e.traceparent)
      assert.ok(sent.includes(`00-${TRACE_ID}-${failed.spanId}-01`) && sent.includes(`00-${TRACE_ID}-${retry.spanId}-01`), JSON.stringify(sent))
    })

    it('marks a 5xx answer as an error', async () => {
      gw.sim.reset()
      receiver.spans.length = 0
      gw.sim.knobs.setDefault({ html502: true })
      let res
      try {
        res = await request(`${gw.url}/opportunities`, { method: 'POST', body: opportunity, headers: { traceparent: TRACEPARENT } })
      } finally {
        gw.sim.knobs.clear()
      }
      assert.ok(res.status >= 500, `${res.status} ${res.text}`)
      await gw.app.tracing!.flush()
      const server = receiver.spans.find((s) => s.kind === 2 && s.attributes['http.route'] === '/opportunities')
      assert.ok(server, JSON.stringify(receiver.spans))
      assert.equal(server.attributes['http.response.status_code'], res.status)
      assert.equal(server.attributes['error.type'], String(res.status))
      assert.equal(server.status.code, 2)
      const failed = receiver.spans.filter((s) => s.kind === 3 && s.parentSpanId === server.spanId)
      assert.ok(failed.length >= 1 && failed.every((s) => s.status.code === 2 && s.attributes['marketo.outcome'] !== 'ok'), JSON.stringify(failed))
    })

    it('names unmatched routes by method only, without the query string', async () => {
      receiver.spans.length = 0
      const res = await request(`${gw.url}/no/such/route/secret-looking?api_key=abc`, { headers: { traceparent: TRACEPARENT } })
      assert.equal(res.status, 404)
      await gw.app.tracing!.flush()
      const server = receiver.spans.find((s) => s.kind === 2)
      assert.ok(server, JSON.stringify(receiver.spans))
      assert.equal(server.name, 'GET')
      assert.equal(server.attributes['url.path'], '/no/such/route/secret-looking')
      assert.equal(server.attributes['http.response.status_code'], 404)
      assert.notEqual(server.status.code, 2)
      assert.ok(!receiver.posts.some((p) => p.body.includes('api_key')))
    })
  })
}

describe('tracing sampled out by the caller (parentbased_always_on)', () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>
  let gw: TestGateway
  before(async () => {
    receiver = await startReceiver()
    gw = await startGateway({ backend: 'soap', env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces` } })
  })
  after(async () => {
    await gw.close()
    await receiver.close()
  })

  it('exports nothing but still propagates the trace, unsampled', async () => {
    const res = await request(`${gw.url}/opportunities`, { method: 'POST', body: opportunity, headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` } })
    assert.equal(res.status, 200)
    await gw.app.tracing!.flush()
    assert.equal(receiver.spans.length, 0)
    const tp = gw.sim.ledger.map((e) => e.traceparent).find((t) => t !== undefined)
    const m = TRACEPARENT_RE.exec(tp ?? '')
    assert.ok(m, String(tp))
    assert.equal(m[1], TRACE_ID)
    assert.equal(m[3], '00')
  })
})

describe('tracing: close and aborted requests', () => {
  it('flushes the spans still buffered when the gateway closes, with the exporter\'s headers from the environment', async () => {
    const receiver = await startReceiver()
    // Read by the OpenTelemetry exporter itself when it is built (README, Tracing).
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'x-collector-token=collector-secret-5d1e'
    let gw: TestGateway
    try {
      gw = await startGateway({ backend: 'soap', env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } })
    } finally {
      delete process.env.OTEL_EXPORTER_OTLP_HEADERS
    }
    try {
      const res = await request(`${gw.url}/opportunities`, { method: 'POST', body: opportunity, headers: { traceparent: TRACEPARENT } })
      assert.equal(res.status, 200)
    } finally {
      // No flush: the batch processor still holds the spans (its delay is seconds).
      await gw.close()
    }
    assert.ok(receiver.spans.some((s) => s.kind === 2 && s.traceId === TRACE_ID), JSON.stringify(receiver.spans))
    assert.ok(receiver.spans.some((s) => s.kind === 3 && s.traceId === TRACE_ID))
    assert.ok(receiver.posts.length > 0 && receiver.posts.every((p) => p.headers['x-collector-token'] === 'collector-secret-5d1e'))
    assert.ok(!gw.logs.some((l) => l.includes('collector-secret-5d1e')))
    await receiver.close()
  })

  // The timeout only turns a regression (a span never ended) into a failure instead of a hang.
  it('ends the span of a request whose caller went away, as an error', { timeout: 60_000 }, async () => {
    const receiver = await startReceiver()
    const gw = await startGateway({ backend: 'soap', env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } })
    try {
      gw.sim.knobs.enqueue({ latencyMs: 2_000 })
      const controller = new AbortController()
      const pending = fetch(`${gw.url}/opportunities`, {
        method: 'POST',
        body: JSON.stringify(opportunity),
        headers: { traceparent: TRACEPARENT, authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
        signal: controller.signal
      }).catch((err: unknown) => err)
      // Abort once the Marketo call is under way (the simulator holds it).
      while (gw.sim.ledger.length === 0) await new Promise((resolve) => setImmediate(resolve))
      controller.abort()
      assert.ok(await pending instanceof Error)
      let server: ExportedSpan | undefined
      while (server === undefined) {
        await gw.app.tracing!.flush()
        server = receiver.spans.find((s) => s.kind === 2)
        if (server === undefined) await new Promise((resolve) => setImmediate(resolve))
      }
      assert.equal(server.traceId, TRACE_ID)
      assert.equal(server.attributes['error.type'], 'aborted')
      assert.equal(server.status.code, 2)
      assert.equal(server.attributes['http.response.status_code'], undefined)
    } finally {
      gw.sim.knobs.clear()
      await gw.close()
      await receiver.close()
    }
  })
})

describe('traceparent on the REST token request', () => {
  it('is sent with the attempt that needed the token (the simulator\'s ledger lists data calls only)', async () => {
    const seen: Array<string | undefined> = []
    const server = http.createServer((req, res) => {
      seen.push(req.headers.traceparent as string | undefined)
      req.resume()
      req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"t-1","expires_in":3600}'))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const transport = new BoundedHttp({ maxResponseBytes: 65_536, defaultTimeoutMs: 10_000 })
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`
      const tokens = new TokenCache({ http: transport, tokenUrl: `${endpoint}/identity/oauth/token`, clientId: 'id', clientSecret: 'secret' })
      assert.equal(await tokens.get({ traceparent: TRACEPARENT }), 't-1')
      assert.deepEqual(seen, [TRACEPARENT])
      tokens.invalidate('t-1')
      await tokens.get({})
      assert.deepEqual(seen, [TRACEPARENT, undefined])
    } finally {
      transport.close()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

describe('tracing off', () => {
  for (const [what, env] of [
    ['no OTEL variables', {}],
    ['OTEL_SDK_DISABLED=true', { OTEL_SDK_DISABLED: 'true' }],
    ['OTEL_TRACES_EXPORTER=none', { OTEL_TRACES_EXPORTER: 'none' }]
  ] as const) {
    it(`${what}: no span, no traceparent to Marketo, no trace ids in logs, no hook`, async () => {
      const receiver = await startReceiver()
      const gw = await startGateway({ backend: 'soap', env: what === 'no OTEL variables' ? {} : { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } })
      try {
        assert.equal(gw.app.tracing, undefined)
        assert.equal(gw.app.hasRequestDecorator('traceSpan'), false)
        assert.ok(!gw.app.printPlugins().includes('tracing'))
        const res = await request(`${gw.url}/opportunities`, { method: 'POST', body: opportunity, headers: { traceparent: TRACEPARENT, 'x-request-id': 'off' } })
        assert.equal(res.status, 200)
        assert.ok(gw.sim.ledger.length > 0)
        assert.ok(gw.sim.ledger.every((e) => e.traceparent === undefined))
        const lines = logLinesOf(gw, 'off')
        assert.ok(lines.length > 0)
        assert.ok(lines.every((l) => l.trace_id === undefined && l.span_id === undefined))
      } finally {
        await gw.close()
      }
      assert.equal(receiver.posts.length, 0)
      await receiver.close()
    })
  }

  it('loads no OpenTelemetry module unless configured', async () => {
    // A fresh process: build an untraced app, serve a request, list the loaded OpenTelemetry
    // packages; then a traced one (so the check can tell the difference).
    const script = `
      import { createRequire } from 'node:module'
      const { buildApp } = await import('./src/app.ts')
      const { loadConfig } = await import('./src/config.ts')
      const loaded = () => [...new Set(Object.keys(createRequire(import.meta.url).cache).map((k) => /@opentelemetry[\\\\/][^\\\\/]+/.exec(k)?.[0]).filter(Boolean))]
      const off = await buildApp(loadConfig({ PORT: '0', LOG_LEVEL: 'silent' }))
      await off.inject({ method: 'GET', url: '/healthz' })
      const before = loaded()
      await off.close()
      const on = await buildApp(loadConfig({ PORT: '0', LOG_LEVEL: 'silent', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }))
      const after = loaded()
      await on.tracing.shutdown().catch(() => {})
      await on.close().catch(() => {})
      process.stdout.write(JSON.stringify({ before, after }))
    `
    const root = fileURLToPath(new URL('../..', import.meta.url))
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, timeout: 60_000 })
    const { before, after } = JSON.parse(stdout) as { before: string[], after: string[] }
    // prom-client loads the OpenTelemetry API itself (for exemplars); nothing else may be loaded.
    assert.deepEqual(before.filter((p) => p !== '@opentelemetry/api'), [])
    assert.ok(after.some((p) => p.includes('sdk-trace-base')), JSON.stringify(after))
  })
})

describe('OTEL_* configuration', () => {
  it('is off without an endpoint, whatever else is set', () => {
    assert.equal(loadConfig({}).tracing, null)
    assert.equal(loadConfig({ OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }).tracing, null)
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' }).tracing, null)
  })

  it('derives the traces URL and reads service name, resource attributes and sampler', () => {
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).tracing?.url, 'http://c:4318/v1/traces')
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/otlp/' }).tracing?.url, 'http://c:4318/otlp/v1/traces')
    assert.equal(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://d/t' }).tracing?.url, 'http://d/t')
    assert.deepEqual(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://d/t' }).tracing, {
      url: 'http://d/t', serviceName: 'marketo-mobject-gateway', resourceAttributes: {}, sampler: { name: 'parentbased_always_on', ratio: 1 }
    })
    const t = loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_SERVICE_NAME: 'gw', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod, team=a%2Cb', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).tracing
    assert.deepEqual(t, { url: 'http://c/v1/traces', serviceName: 'gw', resourceAttributes: { 'deployment.environment': 'prod', team: 'a,b' }, sampler: { name: 'parentbased_traceidratio', ratio: 0.25 } })
  })

  it('refuses what it cannot honour', () => {
    for (const env of [
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_TRACES_SAMPLER: 'jaeger_remote' },
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_TRACES_SAMPLER_ARG: '2' },
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'c:4318' },
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c', OTEL_RESOURCE_ATTRIBUTES: 'novalue' }
    ]) {
      assert.throws(() => loadConfig(env), ConfigError, JSON.stringify(env))
    }
  })
})
