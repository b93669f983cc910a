import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { SyncOperation } from '../../domain/model.js'
import type { Summary } from '../../domain/results.js'

export interface UpstreamCallEvent {
  operation: string
  objects: number
  outcome: string
  upstreamCode?: number
  durationMs: number
}

export interface RunRecord {
  operation: SyncOperation
  summary: Summary
  calls: number
}

export interface GatewayMetrics {
  registry: Registry
  /** One answered HTTP request (the onResponse hook). */
  recordHttp (method: string, route: string, statusCode: number, seconds: number): void
  /** One Marketo call (the Executor's onCall). */
  recordCall (event: UpstreamCallEvent): void
  /** One finished sync request: per-object statuses, batch size, Marketo calls it took. */
  recordRun (route: string, run: RunRecord): void
  /** The coalescer: how many gateway requests were merged into one Marketo call. */
  recordCoalesce (requests: number): void
  /** The Prometheus text exposition: process metrics and this instance's metrics. */
  scrape (): Promise<string>
  /** Told of every Marketo call recordCall sees (the quota day counter, src/plugins/budget-metrics.ts). */
  readonly callListeners: Array<(event: UpstreamCallEvent) => void>
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: GatewayMetrics
  }
}

export const BREAKER_STATE_VALUE = { closed: 0, open: 1, half_open: 2 } as const

// Process metrics (CPU, memory, GC, event loop) belong to the process, not to an app instance:
// one registry for them, created once, so building many apps (tests) adds no observers.
let processRegistry: Registry | undefined
function processMetrics (): Registry {
  if (processRegistry === undefined) {
    processRegistry = new Registry()
    collectDefaultMetrics({ register: processRegistry })
  }
  return processRegistry
}

const SUMMARY_KEYS: Array<Exclude<keyof Summary, 'total'>> = ['created', 'updated', 'unchanged', 'skipped', 'failed', 'deleted', 'unknown', 'notApplied']
const STATUS_LABEL: Record<string, string> = { notApplied: 'not_applied' }

export function createMetrics (app: FastifyInstance): GatewayMetrics {
  const registry = new Registry()
  const registers = [registry]

  const httpRequests = new Counter({
    name: 'gateway_http_requests_total',
    help: 'HTTP requests answered, by route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers
  })
  const httpDuration = new Histogram({
    name: 'gateway_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route template',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers
  })
  const upstreamCalls = new Counter({
    name: 'marketo_calls_total',
    help: 'Marketo calls, by operation (INSERT, UPDATE, UPSERT for syncMObjects; getMObjects, describeMObject, deleteMObjects) and outcome (ok, or the gateway error code)',
    labelNames: ['operation', 'outcome'] as const,
    registers
  })
  const upstreamDuration = new Histogram({
    name: 'marketo_call_duration_seconds',
    help: 'Latency of one Marketo call, by operation and outcome',
    labelNames: ['operation', 'outcome'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers
  })
  const faults = new Counter({
    name: 'marketo_faults_total',
    help: 'Marketo SOAP fault codes received (20023 rate limit, 20015 quota, ...)',
    labelNames: ['code'] as const,
    registers
  })
  const objectsPerCall = new Histogram({
    name: 'marketo_call_objects',
    help: 'Objects sent in one Marketo call; sum/count is the coalescing ratio',
    labelNames: ['operation'] as const,
    buckets: [1, 2, 5, 10, 20, 50, 100],
    registers
  })
  const requestsPerCall = new Histogram({
    name: 'marketo_call_merged_requests',
    help: 'Gateway requests merged into one Marketo call (fed by the coalescer)',
    buckets: [1, 2, 5, 10, 20, 50, 100],
    registers
  })
  const objectStatuses = new Counter({
    name: 'gateway_objects_total',
    help: 'Objects answered, by route, operation and normalized status',
    labelNames: ['route', 'operation', 'status'] as const,
    registers
  })
  const batchSize = new Histogram({
    name: 'gateway_request_objects',
    help: 'Objects in one sync request',
    labelNames: ['route'] as const,
    buckets: [1, 2, 5, 10, 20, 50, 100, 250, 500, 1000],
    registers
  })
  const callsPerRequest = new Histogram({
    name: 'gateway_request_marketo_calls',
    help: 'Marketo calls one sync request took, retries included',
    labelNames: ['route'] as const,
    buckets: [0, 1, 2, 3, 5, 10, 20],
    registers
  })

  // Read at scrape time from the live limiter and breaker; absent before the marketo plugin.
  const runtime = () => (app.hasDecorator('marketo') ? app.marketo : undefined)
  /* eslint-disable no-new */
  new Gauge({
    name: 'marketo_limiter_queue_depth',
    help: 'Marketo calls waiting for a limiter slot',
    registers,
    collect () { this.set(runtime()?.limiter.queueDepth ?? 0) }
  })
  new Gauge({
    name: 'marketo_limiter_in_flight',
    help: 'Marketo calls in flight',
    registers,
    collect () { this.set(runtime()?.limiter.inFlight ?? 0) }
  })
  let rejectedSeen = 0
  new Counter({
    name: 'marketo_limiter_rejected_total',
    help: 'Marketo calls refused by the limiter (queue full or no slot before the deadline)',
    registers,
    collect () {
      const rejected = runtime()?.limiter.rejected ?? rejectedSeen
      if (rejected > rejectedSeen) this.inc(rejected - rejectedSeen)
      rejectedSeen = rejected
    }
  })
  new Gauge({
    name: 'marketo_circuit_state',
    help: 'Circuit breaker state: 0 closed, 1 open, 2 half open',
    registers,
    collect () { this.set(BREAKER_STATE_VALUE[runtime()?.breaker.state ?? 'closed']) }
  })
  /* eslint-enable no-new */

  const callListeners: Array<(event: UpstreamCallEvent) => void> = []
  return {
    registry,
    callListeners,
    recordHttp (method, route, statusCode, seconds) {
      const labels = { method, route, status_code: String(statusCode) }
      httpRequests.inc(labels)
      httpDuration.observe(labels, seconds)
    },
    recordCall (e) {
      const labels = { operation: e.operation, outcome: e.outcome }
      upstreamCalls.inc(labels)
      upstreamDuration.observe(labels, e.durationMs / 1000)
      if (e.objects > 0) objectsPerCall.observe({ operation: e.operation }, e.objects)
      if (e.upstreamCode !== undefined) faults.inc({ code: String(e.upstreamCode) })
      for (const listener of callListeners) listener(e)
    },
    recordRun (route, run) {
      batchSize.observe({ route }, run.summary.total)
      callsPerRequest.observe({ route }, run.calls)
      for (const key of SUMMARY_KEYS) {
        const n = run.summary[key]
        if (n > 0) objectStatuses.inc({ route, operation: run.operation, status: STATUS_LABEL[key] ?? key }, n)
      }
    },
    recordCoalesce (requests) {
      requestsPerCall.observe(requests)
    },
    async scrape () {
      return (await processMetrics().metrics()) + (await registry.metrics())
    }
  }
}

export default fp(async function metricsPlugin (app) {
  const metrics = createMetrics(app)
  app.decorate('metrics', metrics)

  app.addHook('onResponse', async (request, reply) => {
    // The route template, never the raw URL: ids in paths would make one series per object.
    metrics.recordHttp(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000)
  })

  // Not in the OpenAPI document; no auth (scrapers carry no API key), see docs/ecosystem.md.
  app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) => {
    reply.type(metrics.registry.contentType)
    return metrics.scrape()
  })
}, { name: 'metrics' })
