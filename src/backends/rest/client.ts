import { GatewayError } from '../../domain/errors.js'
import type { CallHints } from '../../upstream/transport.js'
import type { MObject, MObjStatus, SyncOperation } from '../../domain/model.js'
import type { SyncCallPlan } from '../../upstream/backend.js'
import { envelopeError, firstError, readEnvelope, TOKEN_ERRORS, type RestEnvelope } from './errors.js'
import { BoundedHttp, type TransportOptions } from '../../upstream/transport.js'
import { MAX_REST_BODY_BYTES, planRestCalls, recordStatuses, restProblems, type RestCall, type RestMappingConfig } from './mapping.js'
import { TokenCache } from './token.js'

export interface MarketoRestClientOptions extends RestMappingConfig {
  /** Base URL, e.g. https://123-ABC-456.mktorest.com (a trailing /rest or slash is dropped). */
  endpoint: string
  /** Identity endpoint, e.g. https://123-ABC-456.mktorest.com/identity (default: /identity on the endpoint's base). */
  identityEndpoint?: string
  clientId: string
  clientSecret: string
  transport: TransportOptions
  quotaRetryAfterMs?: number
  now?: () => number
}

export interface RestRequest {
  method: 'GET' | 'POST'
  /** Below the endpoint, e.g. /rest/v1/opportunities.json */
  path: string
  query?: Record<string, string>
  contentType?: string
  body?: string
}

/** The REST call's name in logs and metrics. */
const REST_OPERATION: Record<RestCall['kind'], string> = { opportunities: 'syncOpportunities', roles: 'syncOpportunityRoles', program: 'updateProgram' }

/** Update Program's "no such program" (702, No data found); 610 is a wrong path, the configuration's fault. */
const PROGRAM_NOT_FOUND = 702

/** The token URL below the REST base when MARKETO_IDENTITY_ENDPOINT is not set (Marketo's /identity on the same host). */
const DEFAULT_TOKEN_PATH = '/identity/oauth/token'

/**
 * Whether re-sending a call changes nothing: an UPDATE (updateOnly, or a program by id) without
 * cost lines, which REST always appends. Inserts and upserts are not (a retry may create).
 */
export function isIdempotentRestWrite (operation: SyncOperation, objects: readonly MObject[]): boolean {
  return operation === 'UPDATE' && objects.every((o) => (o.typeAttribs ?? []).every((t) => t.attrType !== 'Cost'))
}

// The REST backend behind the executor's seam: how a batch becomes REST calls, and how each
// call's answer becomes one status per record.
export class MarketoRestClient {
  readonly http: BoundedHttp
  readonly tokens: TokenCache
  private readonly endpoint: string

  constructor (private readonly opts: MarketoRestClientOptions) {
    // The gateway appends /rest/v1/…: an endpoint copied from Admin (…/rest) must not double it.
    this.endpoint = opts.endpoint.replace(/\/+$/, '').replace(/\/rest$/, '')
    this.http = new BoundedHttp(opts.transport)
    const tokenUrl = opts.identityEndpoint === undefined
      ? this.endpoint + DEFAULT_TOKEN_PATH
      : `${opts.identityEndpoint.replace(/\/+$/, '')}/oauth/token`
    this.tokens = new TokenCache({ http: this.http, tokenUrl, clientId: opts.clientId, clientSecret: opts.clientSecret, now: opts.now })
  }

  close (): void {
    this.http.close()
  }

  /** What the REST API cannot honour in this batch (empty: it maps). */
  problems (operation: SyncOperation, objects: MObject[]): ReturnType<typeof restProblems> {
    return restProblems(operation, objects, this.opts)
  }

  /** A dry run's view of the calls for one chunk: `POST path`, content type, body; no token. */
  describeCalls (operation: SyncOperation, objects: MObject[]): string {
    const plan = planRestCalls(operation, objects)
    return plan.calls.map((c) => `POST ${c.path}\nContent-Type: ${c.contentType}\n\n${c.body}`).join('\n\n')
  }

  /**
   * One REST call per endpoint and dedupe mode (opportunities, roles) and one per program, in input
   * order. The executor admits, retries and counts each on its own, so a retry re-sends only the
   * call that was not applied (issue #12).
   */
  planSync (operation: SyncOperation, objects: MObject[]): SyncCallPlan {
    const problems = this.problems(operation, objects)
    if (problems.length > 0) {
      // The routes check first; this is the backstop for any other caller.
      throw new GatewayError('VALIDATION_FAILED', `not supported by the REST backend: ${problems[0].message}`, { sent: false })
    }
    const plan = planRestCalls(operation, objects)
    return {
      local: plan.local,
      calls: plan.calls.map((call) => {
        const sent = call.indexes.map((i) => objects[i])
        return {
          operation: REST_OPERATION[call.kind],
          objects: sent.length,
          idempotent: isIdempotentRestWrite(operation, sent),
          indexes: call.indexes,
          objectsSent: sent,
          send: async (hints: CallHints) => await this.runCall(call, objects, hints),
          parse: (statuses: MObjStatus[]) => statuses
        }
      })
    }
  }

  /**
   * One authenticated REST request and its JSON envelope: exactly one call against Marketo's
   * limits. A rejected token (601/602) is dropped and thrown as a `reauth` error.
   */
  async send (req: RestRequest, hints: CallHints): Promise<RestEnvelope> {
    const query = req.query === undefined ? '' : `?${new URLSearchParams(req.query).toString()}`
    const token = await this.tokens.get(hints)
    const headers: Record<string, string> = { Accept: 'application/json', Authorization: `Bearer ${token}` }
    if (req.contentType !== undefined) headers['Content-Type'] = req.contentType
    const env = readEnvelope(await this.http.request({ method: req.method, url: this.endpoint + req.path + query, headers, body: req.body }, hints))
    if (typeof env.requestId === 'string') hints.upstreamRequestId = env.requestId.slice(0, 64)
    if (!env.success && TOKEN_ERRORS.has(firstError(env).code)) {
      // Nothing was applied. The executor re-sends the call once (a new attempt through the call
      // gate: it is another call against Marketo's limits) with a fresh token.
      this.tokens.invalidate(token)
      throw this.failure(env)
    }
    return env
  }

  /** The GatewayError of a `success: false` answer. */
  failure (env: RestEnvelope): GatewayError {
    return envelopeError(env, { quotaRetryAfterMs: this.opts.quotaRetryAfterMs })
  }

  private async runCall (call: RestCall, objects: MObject[], hints: CallHints): Promise<MObjStatus[]> {
    if (Buffer.byteLength(call.body) > MAX_REST_BODY_BYTES) {
      throw new GatewayError('UPSTREAM_REJECTED', `the REST call would carry ${Buffer.byteLength(call.body)} bytes, over Marketo's 1 MB limit: send fewer or smaller objects`, { upstreamCode: 413, sent: false })
    }
    const env = await this.send({ method: 'POST', path: call.path, contentType: call.contentType, body: call.body }, hints)
    const answer = env as RestEnvelope
    if (call.kind === 'program') {
      const index = call.indexes[0]
      const sent = objects[index]
      if (answer.success) return [{ id: sent.id ?? null, status: 'UPDATED' }]
      const e = firstError(answer)
      // One program per call: a data error is that program's failure, as on SOAP (FAILED / SKIPPED).
      if (e.code === PROGRAM_NOT_FOUND) return [{ id: sent.id ?? null, status: 'SKIPPED', error: `${e.message.slice(0, 500)} (${e.code})` }]
      if (e.code >= 700) return [{ id: sent.id ?? null, status: 'FAILED', error: `${e.message.slice(0, 500)} (${e.code})` }]
      throw this.failure(answer)
    }
    if (!answer.success) throw this.failure(answer)
    const statuses = recordStatuses(call, objects, answer.result)
    if (typeof statuses === 'string') {
      throw new GatewayError('UPSTREAM_PROTOCOL_ERROR', `Marketo's answer does not match the records sent (${statuses})`, { sent: true })
    }
    return statuses
  }
}
