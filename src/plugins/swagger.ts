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
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { tryItOutEnabled: true, deepLinking: false } })
}, { name: 'swagger' })
