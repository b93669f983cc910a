import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { ENDPOINT_PATH, createRequestHandler, createStats, type HandlerContext, type LedgerEntry, type Logger, type SimulatorStats } from './handler.js'
import { KnobQueue, type Knob } from './knobs.js'
import { LimitTracker, MARKETO_LIMITS, resolveLimits, type LimitsConfig } from './limits.js'
import { createSimulatorStore, loadSeed, type SeedData, type SimulatorStore } from './store.js'
import { createRestFace, type RestFaceControl } from './rest/handler.js'

export { createRequestHandler, verifyAuth, rewriteWsdl, ENDPOINT_PATH } from './handler.js'
export type { HandlerContext, LedgerEntry, Logger, SimulatorStats } from './handler.js'
export { createSimulatorStore, loadSeed, SimulatorStore, PAGE_SIZE } from './store.js'
export type { SeedData, FieldDef, StoredProgram, StoredOpportunity, StoredRole, StoredLead, StoredCompany, ReturnedMObject } from './store.js'
export { KnobQueue, hostileBody } from './knobs.js'
export type { Knob, HostileKind } from './knobs.js'
export { MARKETO_LIMITS } from './limits.js'
export { toGuid, fromGuid } from './rest/guid.js'
export type { RestFaceControl } from './rest/handler.js'
export type { LimitsConfig } from './limits.js'
export { SimulatorFault, faultXml, escapeXml, FAULT_TEXT } from './faults.js'

// The demo credentials printed in Marketo's SOAP docs (their signature vectors verify with them).
export const DEMO_USER_ID = 'demo17_1_809934544BFABAE58E5D27'
export const DEMO_ENCRYPTION_KEY = '27272727aa'
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024
// The REST face's LaunchPoint credentials (simulator only).
export const DEMO_REST_CLIENT_ID = 'sim-client-7f3a1c'
export const DEMO_REST_CLIENT_SECRET = 'sim-secret-2b9e4d7a61c0f8'

export interface SimulatorOptions {
  host?: string
  port?: number
  userId?: string
  encryptionKey?: string
  clock?: () => Date
  timestampWindowMs?: number
  limits?: LimitsConfig
  maxBodyBytes?: number
  /** Ledger and knobs; default true. The standalone server turns it on only with SIMULATOR_ADMIN=1. */
  inspection?: boolean
  /** Serve the /__admin/ JSON routes (standalone use); default false. */
  adminPath?: boolean
  seed?: SeedData
  logger?: Logger
  /** REST face: access token lifetime (default one hour, as Marketo's). */
  restTokenTtlMs?: number
  /** REST face: the store field that is REST's externalOpportunityId (default opportunityId). */
  restExternalKeyField?: string
  restClientId?: string
  restClientSecret?: string
  /** REST face: a CRM-synced instance (opportunities read-only, no role API); default false. */
  restCrmSync?: boolean
}

export interface RunningSimulator {
  endpoint: string
  /** The credentials this instance accepts: SOAP (userId, encryptionKey) and REST (LaunchPoint client). */
  credentials: { userId: string, encryptionKey: string, restClientId: string, restClientSecret: string }
  /** Base URL of the REST face (identity and /rest/ paths), e.g. http://127.0.0.1:1234 */
  restEndpoint: string
  rest: RestFaceControl
  wsdlUrl: string
  ledger: LedgerEntry[]
  store: SimulatorStore
  knobs: { enqueue (k: Knob): void, setDefault (k?: Knob): void, clear (): void }
  stats: SimulatorStats
  setLimits (l: SimulatorOptions['limits']): void
  reset (): void
  close (): Promise<void>
}

export function loadWsdlTemplate (): string {
  return readFileSync(new URL('./wsdl/mktows-2_3.wsdl', import.meta.url), 'utf8')
}

function readJson (req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let data = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => {
      data += c
      if (data.length > 65_536) reject(new Error('too large'))
    })
    req.on('end', () => {
      try { resolve(data === '' ? undefined : JSON.parse(data)) } catch (err) { reject(err) }
    })
    req.on('error', reject)
  })
}

export async function startSimulator (opts: SimulatorOptions = {}): Promise<RunningSimulator> {
  const clock = opts.clock ?? (() => new Date())
  const baseLimits = resolveLimits(MARKETO_LIMITS, opts.limits)
  const limits = new LimitTracker(baseLimits)
  const store = createSimulatorStore(opts.seed ?? loadSeed(), clock)
  const knobs = new KnobQueue()
  const ledger: LedgerEntry[] = []
  const stats = createStats()
  const host = opts.host ?? '127.0.0.1'
  let endpoint = ''

  const restRef: { control?: RestFaceControl } = {}
  const sim: RunningSimulator = {
    endpoint: '',
    credentials: {
      userId: opts.userId ?? DEMO_USER_ID,
      encryptionKey: opts.encryptionKey ?? DEMO_ENCRYPTION_KEY,
      restClientId: opts.restClientId ?? DEMO_REST_CLIENT_ID,
      restClientSecret: opts.restClientSecret ?? DEMO_REST_CLIENT_SECRET
    },
    restEndpoint: '',
    get rest () { return restRef.control as RestFaceControl },
    wsdlUrl: '',
    ledger,
    store,
    knobs: {
      enqueue: (k) => knobs.enqueue(k),
      setDefault: (k) => knobs.setDefault(k),
      clear: () => knobs.clear()
    },
    stats,
    setLimits: (l) => { limits.limits = resolveLimits(MARKETO_LIMITS, l) },
    reset: () => {
      store.reset()
      ledger.length = 0
      knobs.clear()
      limits.resetCounters()
      limits.limits = baseLimits
      Object.assign(stats, { totalCalls: 0, peakConcurrent: stats.currentConcurrent, acceptedConnections: 0, faultsByCode: {} })
    },
    // Graceful: stop accepting, drop idle keep-alive sockets, give in-flight calls a moment.
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => { if (err) reject(err); else resolve() })
      server.closeIdleConnections()
      setTimeout(() => server.closeAllConnections(), 1_000).unref()
    })
  }

  const admin = (req: IncomingMessage, res: ServerResponse, path: string): void => {
    const reply = (status: number, body: unknown): void => {
      const text = JSON.stringify(body ?? null)
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) })
      res.end(text)
    }
    if (req.method === 'GET') {
      if (path === '/__admin/ledger') return reply(200, ledger)
      if (path === '/__admin/store') return reply(200, store.snapshot())
      if (path === '/__admin/stats') return reply(200, { ...stats, usage: limits.usage, limits: limits.limits, pendingKnobs: knobs.pending })
      return reply(404, { error: 'not found' })
    }
    if (req.method !== 'POST') return reply(405, { error: 'method not allowed' })
    readJson(req).then((body) => {
      if (path === '/__admin/knobs/enqueue') sim.knobs.enqueue(body as Knob)
      else if (path === '/__admin/knobs/default') sim.knobs.setDefault(body as Knob | undefined)
      else if (path === '/__admin/knobs/clear') sim.knobs.clear()
      else if (path === '/__admin/limits') sim.setLimits(body as LimitsConfig)
      else if (path === '/__admin/reset') sim.reset()
      else return reply(404, { error: 'not found' })
      reply(200, { ok: true })
    }, () => reply(400, { error: 'invalid JSON' }))
  }

  const ctx: HandlerContext = {
    store,
    userId: sim.credentials.userId,
    encryptionKey: sim.credentials.encryptionKey,
    clock,
    timestampWindowMs: opts.timestampWindowMs ?? 15 * 60_000,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    limits,
    inspection: opts.inspection ?? true,
    knobs,
    ledger,
    stats,
    wsdlTemplate: loadWsdlTemplate(),
    baseUrl: () => endpoint.slice(0, -ENDPOINT_PATH.length),
    admin: opts.adminPath ? admin : undefined,
    logger: opts.logger
  }

  const face = createRestFace(ctx, {
    clientId: sim.credentials.restClientId,
    clientSecret: sim.credentials.restClientSecret,
    tokenTtlMs: opts.restTokenTtlMs ?? 3_600_000,
    externalKeyField: opts.restExternalKeyField ?? 'opportunityId',
    crmSync: opts.restCrmSync
  })
  ctx.rest = face.handle
  restRef.control = face.control
  const server = createServer({ keepAliveTimeout: 65_000 }, createRequestHandler(ctx))
  // Longer than common client idle timeouts, so a keep-alive socket is not closed under a reused request.
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000
  server.on('connection', () => { stats.acceptedConnections++ })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => { server.off('error', reject); resolve() })
  })
  const { port } = server.address() as AddressInfo
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host
  endpoint = `http://${urlHost}:${port}${ENDPOINT_PATH}`
  sim.endpoint = endpoint
  sim.wsdlUrl = `${endpoint}?WSDL`
  sim.restEndpoint = `http://${urlHost}:${port}`
  opts.logger?.info({ endpoint }, 'Marketo SOAP simulator listening')
  return sim
}
