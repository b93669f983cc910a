import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import type { SyncRun } from '../../upstream/sync-service.js'

// One structured line per write request (docs/security.md#audit-log): who (the key's name, never
// the key), what (route, operation, object ids and external keys), the outcome (HTTP status,
// per-status counts, Marketo calls) and the request id.

declare module 'fastify' {
  interface FastifyRequest {
    // Filled by the write handlers once the sync ran.
    audit: { operation: string, run: SyncRun } | null
  }
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const MAX_LISTED = 1_000

export interface AuditRecord {
  key: string | null
  method: string
  route: string | null
  operation: string | null
  statusCode: number
  ids: number[]
  externalKeys: string[]
  summary: SyncRun['summary'] | null
  marketoCalls: number
  requestId: string
  durationMs: number
}

export function auditRecord (request: FastifyRequest, statusCode: number, durationMs: number): AuditRecord {
  const run = request.audit?.run
  const ids: number[] = []
  const externalKeys: string[] = []
  for (const r of run?.results ?? []) {
    if (r.id !== null && ids.length < MAX_LISTED) ids.push(r.id)
    if (r.externalKey !== undefined && externalKeys.length < MAX_LISTED) externalKeys.push(`${r.externalKey.name}=${r.externalKey.value}`)
  }
  return {
    key: request.apiKeyName,
    method: request.method,
    // The route pattern, never the raw URL (its query string may carry anything).
    route: request.routeOptions.url ?? null,
    operation: request.audit?.operation ?? null,
    statusCode,
    ids,
    externalKeys,
    summary: run?.summary ?? null,
    marketoCalls: run?.calls ?? 0,
    requestId: String(request.id),
    durationMs: Math.round(durationMs)
  }
}

export default fp(async function auditPlugin (app) {
  app.decorateRequest('audit', null)
  // Audit lines are written at info even when LOG_LEVEL is warn or error; `silent` silences all.
  const level = ['warn', 'error', 'fatal'].includes(app.log.level) ? 'info' : app.log.level
  const auditLog = app.log.child({ channel: 'audit' }, { level })
  app.addHook('onResponse', async (request, reply) => {
    if (!WRITE_METHODS.has(request.method)) return
    auditLog.info({ audit: auditRecord(request, reply.statusCode, reply.elapsedTime) }, 'audit')
  })
}, { name: 'audit', dependencies: ['auth'] })
