import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import { MarketoSoapClient } from '../marketo/soap-client.js'
import { Limiter } from '../resilience/limiter.js'
import { CircuitBreaker, RetryBudget } from '../resilience/breaker.js'
import { Executor } from '../sync/executor.js'
import { SyncService, MAX_OBJECTS_PER_CALL } from '../sync/sync-service.js'
import { Coalescer } from '../sync/coalescer.js'
import type { RunningSimulator } from '../simulator/index.js'

export interface MarketoRuntime {
  client: MarketoSoapClient
  executor: Executor
  sync: SyncService
  limiter: Limiter
  breaker: CircuitBreaker
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
  let simulator: RunningSimulator | undefined
  let endpoint = m.endpoint
  let credentials = { userId: m.userId ?? '', encryptionKey: m.encryptionKey ?? '' }
  if (endpoint === undefined) {
    const sim = await import('../simulator/index.js')
    simulator = await sim.startSimulator({ host: '127.0.0.1', port: 0 })
    endpoint = simulator.endpoint
    credentials = { userId: sim.DEMO_USER_ID, encryptionKey: sim.DEMO_ENCRYPTION_KEY }
    app.log.warn({ endpoint }, 'MARKETO_SOAP_ENDPOINT is not set: using the embedded Marketo simulator')
  }
  const client = await MarketoSoapClient.create({
    wsdlPath: m.wsdlPath,
    endpoint,
    credentials,
    now,
    transport: { maxResponseBytes: m.maxResponseBytes, defaultTimeoutMs: m.callTimeoutMs, ca: m.ca, maxSockets: m.maxConcurrency * 2 }
  })
  const limiter = new Limiter({ maxConcurrent: m.maxConcurrency, rate: m.rate, maxQueue: m.maxQueue })
  const breaker = new CircuitBreaker(m.breaker)
  const budget = new RetryBudget({ ratio: 0.2, minPerWindow: 3, windowMs: 10_000 })
  const executor = new Executor({
    backend: client,
    limiter,
    breaker,
    budget,
    callTimeoutMs: m.callTimeoutMs,
    maxAttempts: m.maxAttempts,
    backoffBaseMs: 100,
    backoffMaxMs: 2_000,
    quotaRetryAfterMs: m.quotaResetMs,
    // Upstream metrics, when the metrics plugin is registered (it is in buildApp).
    onCall: app.hasDecorator('metrics') ? (event) => app.metrics.recordCall(event) : undefined
  })
  const coalescer = new Coalescer(executor, {
    windowMs: config.coalesceWindowMs,
    maxObjects: MAX_OBJECTS_PER_CALL,
    onFlush: app.hasDecorator('metrics') ? (requests) => app.metrics.recordCoalesce(requests) : undefined
  })
  const sync = new SyncService(coalescer)
  app.decorate('marketo', { client, executor, sync, limiter, breaker, simulator })
  app.addHook('onClose', async () => {
    limiter.close()
    client.close()
    if (simulator !== undefined) await simulator.close()
  })
}, { name: 'marketo' })
