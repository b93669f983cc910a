import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@sinclair/typebox'

const Health = Type.Object({ status: Type.String() }, { additionalProperties: false })
const Ready = Type.Object({
  status: Type.String(),
  backend: Type.String(),
  upstream: Type.Object({ circuit: Type.String(), embeddedSimulator: Type.Boolean() }, { additionalProperties: false }),
  // Only with REDIS_URL. Redis away does not make a replica unready: it serves requests without an
  // Idempotency-Key on its local share (README, Running several replicas).
  redis: Type.Optional(Type.Object({
    status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
    budget: Type.Union([Type.Literal('shared'), Type.Literal('local')]),
    error: Type.Optional(Type.String())
  }, { additionalProperties: false }))
}, { additionalProperties: false })

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: { tags: ['operations'], security: [], operationId: 'health', summary: 'Liveness: the process answers', response: { 200: Health } }
  }, async () => ({ status: 'ok' }))

  // Ready once the SOAP client exists (the WSDL is local); an unreachable Marketo does not make
  // the gateway unready, the circuit state shows it.
  app.get('/readyz', {
    schema: { tags: ['operations'], security: [], operationId: 'ready', summary: 'Readiness: the Marketo client is built', response: { 200: Ready } }
  }, async () => {
    const shared = app.marketo.shared
    const body: Static<typeof Ready> = {
      status: 'ready',
      backend: app.marketo.backend,
      upstream: { circuit: app.marketo.breaker.state, embeddedSimulator: app.marketo.simulator !== undefined }
    }
    if (shared !== undefined) {
      const up = shared.redis.health.available
      body.status = up ? 'ready' : 'degraded'
      body.redis = { status: up ? 'up' : 'down', budget: shared.budget.mode }
      // The error text of a connection never carries the password (ioredis names host and port).
      if (!up) body.redis.error = shared.redis.health.error
    }
    return body
  })
}

export default healthRoutes
