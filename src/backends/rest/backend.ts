import { GatewayError } from '../../domain/errors.js'
import type { MarketoBackend } from '../../upstream/backend.js'
import type { TransportOptions } from '../../upstream/transport.js'
import { MarketoRestClient } from './client.js'
import { classifyRestError, REST_UNSUPPORTED } from './errors.js'
import { MAX_RECORDS_PER_REST_CALL, restRecordKey } from './mapping.js'
import { restReads } from './reads.js'

export interface RestBackendOptions {
  /** The base below which /rest/… paths go (config.ts restBase). */
  endpoint: string
  /** Ends in /identity; default: /identity on the endpoint's base. */
  identityEndpoint?: string
  clientId: string
  clientSecret: string
  externalKeyField: string
  quotaRetryAfterMs: number
  transport: TransportOptions
  now?: () => number
}

/** Marketo's REST API (Opportunity and Asset endpoints): what a subscription answers today. */
export function createRestBackend (opts: RestBackendOptions): MarketoBackend & { client: MarketoRestClient } {
  const client = new MarketoRestClient(opts)
  return {
    name: 'rest',
    client,
    // Sync Opportunities and Sync Opportunity Roles take 300 records a call (SOAP: 100 MObjects).
    maxObjectsPerCall: MAX_RECORDS_PER_REST_CALL,
    recordKey: restRecordKey,
    // Delete Opportunities / Opportunity Roles: "Each call permits a maximum of 300" (SOAP: 100).
    maxDeletesPerCall: MAX_RECORDS_PER_REST_CALL,
    // Get Opportunities: up to 300 comma-separated filterValues.
    maxKeysPerRead: MAX_RECORDS_PER_REST_CALL,

    checkWrite (operation, objects, at) {
      const problems = client.problems(operation, [...objects])
      if (problems.length === 0) return
      const errors = problems.slice(0, 100).map((p) => ({ path: at(p.index, p.path), message: p.message }))
      throw new GatewayError('VALIDATION_FAILED', `${REST_UNSUPPORTED}: ${errors[0].path || '/'} ${errors[0].message}`, { errors })
    },

    planSync: (operation, objects) => client.planSync(operation, objects),
    preview: async (operation, objects) => client.describeCalls(operation, objects),
    ...restReads(client, { externalKeyField: opts.externalKeyField, quotaRetryAfterMs: opts.quotaRetryAfterMs, endpointPath: URL.canParse(opts.endpoint) ? new URL(opts.endpoint).pathname.replace(/\/+$/, '') : '' }),
    classify: classifyRestError,
    close: () => client.close()
  }
}
