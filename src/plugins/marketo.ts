import fp from 'fastify-plugin'
import { Gauge } from 'prom-client'
import { MarketoRestClient } from '../rest/client.js'
import type { Config } from '../config.js'
import { MarketoSoapClient } from '../marketo/soap-client.js'
import { Limiter } from '../resilience/limiter.js'
import { CircuitBreaker, RetryBudget } from '../resilience/breaker.js'
import { Executor, type CallEvent } from '../sync/executor.js'
import { Admission, QuotaState } from '../resilience/admission.js'
import { SyncService, MAX_OBJECTS_PER_CALL } from '../sync/sync-service.js'
import { Coalescer } from '../sync/coalescer.js'
import { soapReadBackend, type ReadBackend } from '../sync/call.js'
import { restReadBackend } from '../rest/reads.js'
import type { RunningSimulator } from '../../simulator/index.js'

export type MarketoBackendName = 'soap' | 'rest'

export interface MarketoRuntime {
  backend: MarketoBackendName
  /** The SOAP client: the backend with MARKETO_BACKEND=soap (also renders its dry-run envelopes). */
  client: MarketoSoapClient
  /** The REST client, with MARKETO_BACKEND=rest. */
  rest?: MarketoRestClient
  /** getMObjects, describeMObject and deleteMObjects of the active backend. */
  reads: ReadBackend
  executor: Executor
  sync: SyncService
  limiter: Limiter
  breaker: CircuitBreaker
  /** What every Marketo call passes before it starts: deadline room, quota, circuit, call budget. */
  admission: Admission
  /** The process's one retry budget. */
  budget: RetryBudget
  quota: QuotaState
  onCall?: (event: CallEvent) => void
  // Set when the gateway runs against its embedded simulator.
  simulator?: RunningSimulator
}

declare module 'fastify' {
  interface FastifyInstance {
    marketo: MarketoRuntime
  }
}

export interface MarketoPluginOptions {
  config: Config
  now?: () => Date
}

export default fp<MarketoPluginOptions>(async function marketoPlugin (app, { config, now }) {
  const m = config.marketo
  const backendName: MarketoBackendName = m.backend
  let simulator: RunningSimulator | undefined
  let endpoint = m.endpoint
  let credentials = { userId: m.userId ?? '', encryptionKey: m.encryptionKey ?? '' }
  let rest: MarketoRestClient | undefined
  const restEndpoint = m.rest.endpoint
  const embedded = backendName === 'rest' ? restEndpoint === undefined : endpoint === undefined
  if (embedded) {
    const { startSimulator } = await import('../../simulator/index.js')
    simulator = await startSimulator({ host: '127.0.0.1', port: 0 })
    endpoint = simulator.endpoint
    credentials = { userId: simulator.credentials.userId, encryptionKey: simulator.credentials.encryptionKey }
    app.log.warn({ endpoint: backendName === 'rest' ? simulator.restEndpoint : endpoint }, `${backendName === 'rest' ? 'MARKETO_REST_ENDPOINT' : 'MARKETO_SOAP_ENDPOINT'} is not set: using the embedded Marketo simulator`)
  }
  if (backendName === 'rest') {
    rest = new MarketoRestClient({
      endpoint: restEndpoint ?? simulator?.restEndpoint ?? '',
      clientId: m.rest.clientId ?? simulator?.credentials.restClientId ?? '',
      clientSecret: m.rest.clientSecret ?? simulator?.credentials.restClientSecret ?? '',
      externalKeyField: m.rest.externalKeyField,
      quotaRetryAfterMs: m.quotaResetMs,
      transport: { maxResponseBytes: m.maxResponseBytes, defaultTimeoutMs: m.callTimeoutMs, ca: m.ca, maxSockets: m.maxConcurrency * 2 }
    })
  }
  // On the REST backend the SOAP client is built but never called.
  endpoint ??= 'http://127.0.0.1:9/soap-not-configured'
  const client = await MarketoSoapClient.create({
    wsdlPath: m.wsdlPath,
    endpoint,
    credentials,
    now,
    transport: { maxResponseBytes: m.maxResponseBytes, defaultTimeoutMs: m.callTimeoutMs, ca: m.ca, maxSockets: m.maxConcurrency * 2 }
  })
  const limiter = new Limiter({ maxConcurrent: m.maxConcurrency, rate: m.rate, maxQueue: m.maxQueue })
  const breaker = new CircuitBreaker(m.breaker)
  // One retry budget and one quota state for every Marketo call of this process.
  const budget = new RetryBudget({ ratio: 0.2, minPerWindow: 3, windowMs: 10_000 })
  const quota = new QuotaState()
  const admission = new Admission({ limiter, breaker, quota, callTimeoutMs: m.callTimeoutMs, minCallMs: m.minCallMs, quotaRetryAfterMs: m.quotaResetMs })
  const onCall = app.hasDecorator('metrics') ? (event: CallEvent) => app.metrics.recordCall(event) : undefined
  const executor = new Executor({
    backend: rest ?? client,
    admission,
    budget,
    callTimeoutMs: m.callTimeoutMs,
    maxAttempts: m.maxAttempts,
    backoffBaseMs: 100,
    backoffMaxMs: 2_000,
    quotaRetryAfterMs: m.quotaResetMs,
    // Upstream metrics, when the metrics plugin is registered (it is in buildApp).
    onCall
  })
  const coalescer = new Coalescer(executor, {
    windowMs: config.coalesceWindowMs,
    maxObjects: MAX_OBJECTS_PER_CALL,
    onFlush: app.hasDecorator('metrics') ? (requests) => app.metrics.recordCoalesce(requests) : undefined
  })
  const sync = new SyncService(coalescer)
  const reads = rest !== undefined
    ? restReadBackend(rest, { externalKeyField: m.rest.externalKeyField, quotaRetryAfterMs: m.quotaResetMs })
    : soapReadBackend(client)
  app.decorate('marketo', { backend: backendName, client, rest, reads, executor, sync, limiter, breaker, admission, budget, quota, onCall, simulator })
  if (app.hasDecorator('metrics')) {
    const gauge = new Gauge({ name: 'gateway_marketo_backend', help: 'The Marketo API this gateway calls (MARKETO_BACKEND): 1 for the active one', labelNames: ['backend'], registers: [app.metrics.registry] })
    gauge.set({ backend: 'soap' }, backendName === 'soap' ? 1 : 0)
    gauge.set({ backend: 'rest' }, backendName === 'rest' ? 1 : 0)
  }
  app.addHook('onClose', async () => {
    limiter.close()
    client.close()
    rest?.close()
    if (simulator !== undefined) await simulator.close()
  })
}, { name: 'marketo' })
