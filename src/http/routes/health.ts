import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'

const Health = Type.Object({ status: Type.String() }, { additionalProperties: false })
const Ready = Type.Object({
  status: Type.String(),
  backend: Type.String(),
  upstream: Type.Object({ circuit: Type.String(), embeddedSimulator: Type.Boolean() }, { additionalProperties: false })
}, { additionalProperties: false })

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    schema: { tags: ['operations'], security: [], operationId: 'health', summary: 'Liveness: the process answers', response: { 200: Health } }
  }, async () => ({ status: 'ok' }))

  // Ready once the SOAP client exists (the WSDL is local); an unreachable Marketo does not make
  // the gateway unready, the circuit state shows it.
  app.get('/readyz', {
    schema: { tags: ['operations'], security: [], operationId: 'ready', summary: 'Readiness: the Marketo client is built', response: { 200: Ready } }
  }, async () => ({
    status: 'ready',
    backend: app.marketo.backend,
    upstream: { circuit: app.marketo.breaker.state, embeddedSimulator: app.marketo.simulator !== undefined }
  }))
}

export default healthRoutes
