// Writes openapi/openapi.json from the route schemas (npm run openapi). A test fails on drift.
import { writeFileSync } from 'node:fs'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

export async function generateOpenApi (): Promise<string> {
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', MARKETO_SOAP_ENDPOINT: 'http://127.0.0.1:9/soap/mktows/2_3', MARKETO_USER_ID: 'openapi', MARKETO_ENCRYPTION_KEY: 'openapi', AUTH_DISABLED: 'i-understand-the-risk' }))
  await app.ready()
  const doc = JSON.stringify(app.swagger(), null, 2) + '\n'
  await app.close()
  return doc
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '')) {
  writeFileSync(new URL('../openapi/openapi.json', import.meta.url), await generateOpenApi())
}
