import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'

export const OPENAPI_INFO = {
  title: 'Marketo MObject gateway',
  version: '0.1.0',
  description: 'Plain JSON in, one normalized status per object out. Writes program costs and tags, opportunities and opportunity roles into Marketo (SOAP syncMObjects behind the scenes).'
}

export default fp(async function swaggerPlugin (app) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: OPENAPI_INFO,
      servers: [{ url: 'http://127.0.0.1:3000', description: 'Local gateway (npm start)' }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key from API_KEYS (docs/security.md). Never in the query string. Open with the embedded simulator when no keys are configured' }
        }
      },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'programs', description: 'Program period costs and tags' },
        { name: 'opportunities', description: 'Opportunities and opportunity person roles' },
        { name: 'mobjects', description: 'Generic MObject access, one to one with Marketo' },
        { name: 'operations', description: 'Health and readiness' }
      ]
    },
    refResolver: {
      // Components are named after the schemas' $id (never def-0).
      buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `schema-${i}`)
    }
  })
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { tryItOutEnabled: true, deepLinking: false, displayOperationId: true },
    // "Try it out" goes to the gateway serving the page (any host or port, e.g. a container's),
    // not to the committed document's default server; the badge would call an outside validator.
    transformSpecification: (doc) => ({ ...doc, servers: [{ url: '/', description: 'This gateway' }, ...(doc.servers ?? [])] }),
    validatorUrl: false
  })
}, { name: 'swagger' })
