// Writes openapi/openapi.json (3.1) and openapi/openapi-3.0.json (3.0.3, down-converted) from the
// route schemas (npm run openapi). Tests fail on drift.
import { writeFileSync } from 'node:fs'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { toOpenApi30 } from '../src/http/plugins/openapi-3.0.js'

async function routeDocument (): Promise<object> {
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', MARKETO_SOAP_ENDPOINT: 'http://127.0.0.1:9/soap/mktows/2_3', MARKETO_USER_ID: 'openapi', MARKETO_ENCRYPTION_KEY: 'openapi', AUTH_DISABLED: 'i-understand-the-risk' }))
  await app.ready()
  const doc = app.swagger()
  await app.close()
  return doc
}

export async function generateOpenApi (): Promise<string> {
  return JSON.stringify(await routeDocument(), null, 2) + '\n'
}

export async function generateOpenApi30 (): Promise<string> {
  return JSON.stringify(toOpenApi30(await routeDocument()), null, 2) + '\n'
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  writeFileSync(new URL('../openapi/openapi.json', import.meta.url), await generateOpenApi())
  writeFileSync(new URL('../openapi/openapi-3.0.json', import.meta.url), await generateOpenApi30())
}
