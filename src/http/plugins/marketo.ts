import fp from 'fastify-plugin'
import { Gauge } from 'prom-client'
import type { Config } from '../../config.js'
import { createBackend } from '../../backends/index.js'
import type { BackendName, MarketoBackend } from '../../upstream/backend.js'
import { Limiter } from '../../upstream/state/limiter.js'
import { CircuitBreaker, RetryBudget } from '../../upstream/state/breaker.js'
import { Admission, QuotaState } from '../../upstream/state/admission.js'
import { CallExecutor, type CallEvent } from '../../upstream/executor.js'
import { BatchSender } from '../../upstream/batch.js'
import { SyncService } from '../../upstream/sync-service.js'
import { Coalescer } from '../../upstream/coalescer.js'
import { Reader } from '../../upstream/reader.js'
import type { RunningSimulator } from '../../../simulator/index.js'

export type MarketoBackendName = BackendName

export interface MarketoRuntime {
  backend: MarketoBackendName
  /** The active backend (MARKETO_BACKEND): the only one built. */
  api: MarketoBackend
  /** The one executor every Marketo call goes through. */
  calls: CallExecutor
  sync: SyncService
  /** getMObjects, describeMObject and deleteMObjects. */
  reader: Reader
  limiter: Limiter
  breaker: CircuitBreaker
  /** What every Marketo call passes before it starts: deadline room, quota, circuit, call budget. */
  admission: Admission
  /** The process's one retry budget. */
  budget: RetryBudget
  quota: QuotaState
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
  const soap = { endpoint: m.endpoint, credentials: { userId: m.userId ?? '', encryptionKey: m.encryptionKey ?? '' } }
  const rest = { endpoint: m.rest.endpoint, identityEndpoint: m.rest.identityEndpoint, clientId: m.rest.clientId ?? '', clientSecret: m.rest.clientSecret ?? '' }
  if ((backendName === 'rest' ? rest.endpoint : soap.endpoint) === undefined) {
    // The simulator is its own unit (simulator/): the gateway uses only its start function.
    const { startSimulator } = await import('../../../simulator/index.js')
    simulator = await startSimulator({ host: '127.0.0.1', port: 0 })
    soap.endpoint = simulator.endpoint
    soap.credentials = { userId: simulator.credentials.userId, encryptionKey: simulator.credentials.encryptionKey }
    rest.endpoint = simulator.restEndpoint
    rest.clientId = simulator.credentials.restClientId
    rest.clientSecret = simulator.credentials.restClientSecret
    app.log.warn({ endpoint: backendName === 'rest' ? rest.endpoint : soap.endpoint }, `${backendName === 'rest' ? 'MARKETO_REST_ENDPOINT' : 'MARKETO_SOAP_ENDPOINT'} is not set: using the embedded Marketo simulator`)
  }
  let api: MarketoBackend
  try {
    api = await createBackend({
      backend: backendName,
      quotaRetryAfterMs: m.quotaResetMs,
      transport: { maxResponseBytes: m.maxResponseBytes, defaultTimeoutMs: m.callTimeoutMs, ca: m.ca, maxSockets: m.maxConcurrency * 2 },
      soap: { wsdlPath: m.wsdlPath, endpoint: soap.endpoint ?? '', credentials: soap.credentials, now },
      rest: { endpoint: rest.endpoint ?? '', identityEndpoint: rest.identityEndpoint, clientId: rest.clientId, clientSecret: rest.clientSecret, externalKeyField: m.rest.externalKeyField, now: now === undefined ? undefined : () => now().getTime() }
    })
  } catch (err) {
    // A backend that cannot start (an unreadable WSDL) must not leave the embedded simulator listening.
    await simulator?.close()
    throw err
  }
  const limiter = new Limiter({ maxConcurrent: m.maxConcurrency, rate: m.rate, maxQueue: m.maxQueue })
  const breaker = new CircuitBreaker(m.breaker)
  // One retry budget and one quota state for every Marketo call of this process.
  const budget = new RetryBudget({ ratio: 0.2, minPerWindow: 3, windowMs: 10_000 })
  const quota = new QuotaState()
  const admission = new Admission({ limiter, breaker, quota, callTimeoutMs: m.callTimeoutMs, minCallMs: m.minCallMs, quotaRetryAfterMs: m.quotaResetMs })
  // Upstream metrics, when the metrics plugin is registered (it is in buildApp).
  const onCall = app.hasDecorator('metrics') ? (event: CallEvent) => app.metrics.recordCall(event) : undefined
  const calls = new CallExecutor({
    classify: api.classify,
    admission,
    budget,
    callTimeoutMs: m.callTimeoutMs,
    maxAttempts: m.maxAttempts,
    backoffBaseMs: 100,
    backoffMaxMs: 2_000,
    quotaRetryAfterMs: m.quotaResetMs,
    onCall
  })
  const batches = new BatchSender(api, calls)
  const coalescer = new Coalescer(batches, {
    windowMs: config.coalesceWindowMs,
    maxObjects: api.maxObjectsPerCall,
    recordKey: api.recordKey,
    onFlush: app.hasDecorator('metrics') ? (requests) => app.metrics.recordCoalesce(requests) : undefined
  })
  const sync = new SyncService(coalescer, api.maxObjectsPerCall, api.recordKey)
  const reader = new Reader(api, calls)
  app.decorate('marketo', { backend: backendName, api, calls, sync, reader, limiter, breaker, admission, budget, quota, simulator })
  if (app.hasDecorator('metrics')) {
    const gauge = new Gauge({ name: 'gateway_marketo_backend', help: 'The Marketo API this gateway calls (MARKETO_BACKEND): 1 for the active one', labelNames: ['backend'], registers: [app.metrics.registry] })
    gauge.set({ backend: 'soap' }, backendName === 'soap' ? 1 : 0)
    gauge.set({ backend: 'rest' }, backendName === 'rest' ? 1 : 0)
  }
  app.addHook('onClose', async () => {
    limiter.close()
    api.close()
    if (simulator !== undefined) await simulator.close()
  })
}, { name: 'marketo', dependencies: ['metrics'] })
