import fp from 'fastify-plugin'
import { Gauge } from 'prom-client'
import type { Config } from '../../config.js'
import { createBackend } from '../../backends/index.js'
import type { BackendName, MarketoBackend } from '../../upstream/backend.js'
import { Limiter } from '../../upstream/state/limiter.js'
import { CircuitBreaker, RetryBudget } from '../../upstream/state/breaker.js'
import { Admission } from '../../upstream/state/admission.js'
import { QuotaState } from '../../upstream/state/quota-state.js'
import type { Breaker, CallBudget, QuotaGuard, RetryAllowance } from '../../upstream/state/interfaces.js'
import { CallExecutor, type CallEvent } from '../../upstream/executor.js'
import { BatchSender } from '../../upstream/batch.js'
import { SyncService } from '../../upstream/sync-service.js'
import { Coalescer } from '../../upstream/coalescer.js'
import { Reader } from '../../upstream/reader.js'
import type { RunningSimulator } from '../../../simulator/index.js'
import type { GatewayError } from '../../domain/errors.js'
import { RedisCallGate } from '../../upstream/state/redis/call-gate.js'
import { SharedQuota } from '../../upstream/state/redis/quota.js'
import type { SharedRedis } from '../../upstream/state/redis/shared.js'
import { SharedCallBudget } from '../../upstream/state/shared-budget.js'
import { SharedQuotaState } from '../../upstream/state/shared-quota-state.js'

// A granted shared slot counts as in flight for the call timeout plus this, if its replica dies
// before releasing it: never shorter than a live call can last (answer parsing included).
export const LEASE_MARGIN_MS = 2_000

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
  /**
   * The same sends and reads for bulk jobs: every attempt takes the shared call gate's 'bulk'
   * share (JOB_BUDGET_SHARE), never coalesced with interactive requests. Same admission, circuit,
   * quota and retry budget as everything else.
   */
  bulk: { calls: CallExecutor, sync: SyncService, reader: Reader }
  /** The in-process limiter; with REDIS_URL, this replica's local share (used while Redis is away). */
  limiter: Limiter
  /** What Admission takes calls from: the limiter, or with REDIS_URL the shared budget. */
  callBudget: CallBudget
  /** With REDIS_URL: the shared state's connection, health and the budget's current mode. */
  shared?: { redis: SharedRedis, budget: SharedCallBudget }
  /** The circuit (the in-process CircuitBreaker); its state is the last known one. */
  breaker: Breaker
  /** What every Marketo call passes before it starts: deadline room, quota, circuit, call budget. */
  admission: Admission
  /** The process's one retry budget (the in-process RetryBudget). */
  budget: RetryAllowance
  /** The daily quota: QuotaState, or with REDIS_URL SharedQuotaState (synced with Redis every second). */
  quota: QuotaGuard
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
  /** Set with REDIS_URL: call budget, cool-down and daily quota shared by every replica. */
  shared?: SharedRedis
}

export default fp<MarketoPluginOptions>(async function marketoPlugin (app, { config, now, shared }) {
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
  const breaker = new CircuitBreaker(m.breaker)
  // One retry budget and one quota state for every Marketo call of this process.
  const budget = new RetryBudget({ ratio: 0.2, minPerWindow: 3, windowMs: 10_000 })
  let limiter: Limiter
  let callBudget: CallBudget
  let quota: QuotaGuard
  let sharedQuota: SharedQuotaState | undefined
  let sharedBudget: SharedCallBudget | undefined
  let onLimitFault: ((error: GatewayError) => void) | undefined
  if (shared === undefined) {
    limiter = new Limiter({ maxConcurrent: m.maxConcurrency, rate: m.rate, maxQueue: m.maxQueue })
    callBudget = limiter
    quota = new QuotaState()
  } else {
    // With REDIS_URL the limits are the subscription's, for all replicas together.
    const n = m.replicas
    limiter = new Limiter({
      maxConcurrent: Math.max(1, Math.floor(m.maxConcurrency / n)),
      rate: m.rate === null ? null : { calls: Math.max(1, Math.floor(m.rate.calls / n)), windowMs: m.rate.windowMs },
      maxQueue: m.maxQueue
    })
    const gate = new RedisCallGate({
      redis: shared.client,
      prefix: shared.prefix,
      maxConcurrent: m.maxConcurrency,
      rate: m.rate,
      leaseMs: m.callTimeoutMs + LEASE_MARGIN_MS,
      maxQueue: m.maxQueue,
      shares: m.shares,
      failFast: true,
      pace: true,
      available: () => shared.health.available,
      onError: (err) => shared.health.reportError(err)
    })
    sharedBudget = new SharedCallBudget({ gate, local: limiter, health: shared.health })
    callBudget = sharedBudget
    sharedQuota = new SharedQuotaState({ quota: new SharedQuota({ redis: shared.client, prefix: shared.prefix, timeZone: m.quotaDay.timeZone }), health: shared.health })
    quota = sharedQuota
    const b = sharedBudget
    onLimitFault = (error) => {
      // A rate refusal: Marketo's rolling window is full for up to one window length.
      const ms = error.code === 'UPSTREAM_RATE_LIMITED' ? Math.min(error.retryAfterMs ?? 20_000, m.rate?.windowMs ?? 20_000) : (error.retryAfterMs ?? 1_000)
      b.coolDown(error.upstreamCode ?? 0, ms)
    }
  }
  const admission = new Admission({ limiter: callBudget, breaker, quota, callTimeoutMs: m.callTimeoutMs, minCallMs: m.minCallMs, quotaRetryAfterMs: m.quotaResetMs, onLimitFault })
  // Upstream metrics, when the metrics plugin is registered (it is in buildApp).
  const onCall = app.hasDecorator('metrics') ? (event: CallEvent) => app.metrics.recordCall(event) : undefined
  const executorOptions = {
    classify: api.classify,
    admission,
    budget,
    callTimeoutMs: m.callTimeoutMs,
    maxAttempts: m.maxAttempts,
    backoffBaseMs: 100,
    backoffMaxMs: 2_000,
    quotaRetryAfterMs: m.quotaResetMs,
    onCall
  }
  const calls = new CallExecutor(executorOptions)
  const bulkCalls = new CallExecutor({ ...executorOptions, trafficClass: 'bulk' })
  const batches = new BatchSender(api, calls)
  const coalescer = new Coalescer(batches, {
    windowMs: config.coalesceWindowMs,
    maxObjects: api.maxObjectsPerCall,
    recordKey: api.recordKey,
    onFlush: app.hasDecorator('metrics') ? (requests) => app.metrics.recordCoalesce(requests) : undefined
  })
  const sync = new SyncService(coalescer, api.maxObjectsPerCall, api.recordKey)
  const reader = new Reader(api, calls)
  // A job's chunk is a full call already: nothing to merge, but sends naming the same record still
  // go one after the other (windowMs 0 sends at once, in order per record key).
  const bulkSync = new SyncService(new Coalescer(new BatchSender(api, bulkCalls), { windowMs: 0, maxObjects: api.maxObjectsPerCall, recordKey: api.recordKey }), api.maxObjectsPerCall, api.recordKey)
  const bulk = { calls: bulkCalls, sync: bulkSync, reader: new Reader(api, bulkCalls) }
  app.decorate('marketo', {
    backend: backendName,
    api,
    calls,
    sync,
    reader,
    bulk,
    limiter,
    callBudget,
    shared: shared === undefined || sharedBudget === undefined ? undefined : { redis: shared, budget: sharedBudget },
    breaker,
    admission,
    budget,
    quota,
    simulator
  })
  if (app.hasDecorator('metrics')) {
    const gauge = new Gauge({ name: 'gateway_marketo_backend', help: 'The Marketo API this gateway calls (MARKETO_BACKEND): 1 for the active one', labelNames: ['backend'], registers: [app.metrics.registry] })
    gauge.set({ backend: 'soap' }, backendName === 'soap' ? 1 : 0)
    gauge.set({ backend: 'rest' }, backendName === 'rest' ? 1 : 0)
  }
  app.addHook('onClose', async () => {
    callBudget.close()
    limiter.close()
    if (sharedQuota !== undefined) {
      await sharedQuota.sync()
      sharedQuota.close()
    }
    api.close()
    if (simulator !== undefined) await simulator.close()
  })
}, { name: 'marketo', dependencies: ['metrics'] })
