import type { MarketoBackend } from '../upstream/backend.js'
import type { TransportOptions } from '../upstream/transport.js'
import type { MarketoCredentials } from '../domain/model.js'

// The one place that reads MARKETO_BACKEND: only the active backend's module is loaded, so on
// REST no WSDL is parsed and strong-soap is never imported.

export interface BackendSettings {
  backend: 'soap' | 'rest'
  transport: TransportOptions
  quotaRetryAfterMs: number
  soap: { wsdlPath: string, endpoint: string, credentials: MarketoCredentials, now?: () => Date }
  rest: { endpoint: string, identityEndpoint?: string, clientId: string, clientSecret: string, externalKeyField: string, now?: () => number }
}

export async function createBackend (s: BackendSettings): Promise<MarketoBackend> {
  if (s.backend === 'rest') {
    const { createRestBackend } = await import('./rest/backend.js')
    return createRestBackend({ ...s.rest, quotaRetryAfterMs: s.quotaRetryAfterMs, transport: s.transport })
  }
  const { createSoapBackend } = await import('./soap/backend.js')
  return await createSoapBackend({ ...s.soap, transport: s.transport, quotaRetryAfterMs: s.quotaRetryAfterMs })
}
