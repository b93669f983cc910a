import type { IncomingMessage, ServerResponse } from 'node:http'
import type { MObject, MObjStatus } from './model.js'
import { signatureMatches } from './signature.js'
import { SimulatorFault, faultXml } from './faults.js'
import { HTML_502, hostileBody, type Knob, type KnobQueue } from './knobs.js'
import type { LimitTracker } from './limits.js'
import { child, childText, parseXml, readEnvelope, readGetMObjects, readMObjectList, readSyncOperation, type AuthHeader } from './parse-request.js'
import { renderDelete, renderDescribe, renderGet, renderSync } from './render.js'
import type { SimulatorStore } from './store.js'

export const ENDPOINT_PATH = '/soap/mktows/2_3'

export interface LedgerEntry {
  seq: number
  operation: string
  receivedAt: string
  mktowsUserId?: string
  requestTimestamp?: string
  requestSignature?: string
  /** The MObjects sent (syncMObjects, deleteMObjects). */
  objects?: MObject[]
  syncOperation?: string
  /** The statuses answered, after any knob changed them. */
  statuses?: MObjStatus[]
  faultCode?: number
  httpStatus?: number
  applied: boolean
  knob?: Knob
  /** The W3C traceparent header received, if any. */
  traceparent?: string
  /** Which face answered: the SOAP endpoint (absent) or the REST one. */
  face?: 'soap' | 'rest'
  /** REST face: the request as received (body parsed; program forms with costs/tags parsed). */
  rest?: { method: string, path: string, query: string, contentType: string, tokenIn: 'header' | 'query' | 'none', body?: unknown, errorCode?: string }
}

export interface SimulatorStats {
  totalCalls: number
  currentConcurrent: number
  peakConcurrent: number
  acceptedConnections: number
  faultsByCode: Record<string, number>
}

export function createStats (): SimulatorStats {
  return { totalCalls: 0, currentConcurrent: 0, peakConcurrent: 0, acceptedConnections: 0, faultsByCode: {} }
}

export interface Logger {
  info (...a: unknown[]): void
  warn (...a: unknown[]): void
}

export interface HandlerContext {
  store: SimulatorStore
  userId: string
  encryptionKey: string
  clock: () => Date
  timestampWindowMs: number
  maxBodyBytes: number
  limits: LimitTracker
  inspection: boolean
  knobs: KnobQueue
  ledger: LedgerEntry[]
  stats: SimulatorStats
  wsdlTemplate: string
  /** Used in the WSDL when the request has no usable Host header. */
  baseUrl: () => string
  admin?: (req: IncomingMessage, res: ServerResponse, path: string) => void
  /** The REST face (simulator/rest/): /identity/ and /rest/ paths. */
  rest?: (req: IncomingMessage, res: ServerResponse, path: string, query: string) => void
  logger?: Logger
}

// Every operation the WSDL declares; only the four MObject ones are simulated.
export const WSDL_OPERATIONS = new Set([
  'deleteMObjects', 'describeMObject', 'getMObjects', 'syncMObjects', 'getCampaignsForSource', 'getImportToListStatus',
  'getLead', 'getLeadActivity', 'getLeadChanges', 'getMultipleLeads', 'importToList', 'listMObjects', 'listOperation',
  'requestCampaign', 'scheduleCampaign', 'syncLead', 'syncMultipleLeads', 'syncCustomObjects', 'deleteCustomObjects',
  'getCustomObjects', 'mergeLeads', 'getChannels', 'getTags'
])

const LEDGER_CAP = 100_000
const XML_TYPE = 'text/xml; charset=utf-8'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export function rewriteWsdl (template: string, endpoint: string): string {
  return template.replace(/(<soap:address\s+location=")[^"]*(")/, (_m, a: string, b: string) => a + endpoint.replace(/&/g, '&amp;').replace(/"/g, '&quot;') + b)
}

export function send (res: ServerResponse, status: number, body: string | Buffer, type = XML_TYPE, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)), ...extra })
  res.end(body)
}

export function resetConnection (req: IncomingMessage): void {
  const socket = req.socket
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
  else socket.destroy()
}

export function verifyAuth (ctx: Pick<HandlerContext, 'userId' | 'encryptionKey' | 'clock' | 'timestampWindowMs'>, auth: AuthHeader | undefined): void {
  if (!auth || auth.mktowsUserId === undefined || auth.requestSignature === undefined || auth.requestTimestamp === undefined) {
    throw new SimulatorFault(20017, 'AuthenticationHeader is missing or incomplete')
  }
  // Marketo signs the raw timestamp string followed by the user id, lowercase hex HMAC-SHA1.
  if (auth.mktowsUserId !== ctx.userId ||
    !signatureMatches(ctx.encryptionKey, auth.requestTimestamp, auth.mktowsUserId, auth.requestSignature)) {
    throw new SimulatorFault(20014, 'Authentication failed')
  }
  const ts = Date.parse(auth.requestTimestamp)
  if (Number.isNaN(ts)) throw new SimulatorFault(20014, 'Authentication failed: requestTimestamp is not a W3C date-time')
  if (Math.abs(ctx.clock().getTime() - ts) > ctx.timestampWindowMs) throw new SimulatorFault(20016, 'Request has expired')
}

export function readBody (req: IncomingMessage, max: number): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > max) {
      resolve('too-large')
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    req.on('data', (chunk: Buffer) => {
      if (done) return
      size += chunk.length
      if (size > max) {
        done = true
        chunks.length = 0
        resolve('too-large')
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => { if (!done) { done = true; resolve(Buffer.concat(chunks, size)) } })
    req.on('error', (err) => { if (!done) { done = true; reject(err) } })
  })
}

export async function writeChunks (res: ServerResponse, chunks: Iterable<string | Buffer>, intervalMs = 0): Promise<void> {
  for (const chunk of chunks) {
    if (res.destroyed) return
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
        res.on('drain', done)
        res.on('close', done)
      })
    }
    if (intervalMs > 0) await sleep(intervalMs)
  }
  if (!res.destroyed) res.end()
}

function * slices (body: string, size: number): Generator<Buffer> {
  const buf = Buffer.from(body)
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size)
}

function adjustStatuses (statuses: MObjStatus[], knob: Knob | undefined): MObjStatus[] {
  if (!knob) return statuses
  let out = statuses
  if (knob.statusCount === 'fewer') out = out.slice(0, Math.max(0, out.length - 1))
  if (knob.statusCount === 'more') out = [...out, { id: 2_000_000_001, status: 'UNCHANGED' }]
  if (knob.unmatchedId && out.length > 0) out = [{ ...out[0], id: 2_000_000_000 }, ...out.slice(1)]
  return out
}

export function createRequestHandler (ctx: HandlerContext): (req: IncomingMessage, res: ServerResponse) => void {
  let seq = 0

  const baseFromHost = (req: IncomingMessage): string => {
    const host = req.headers.host
    return host && /^[A-Za-z0-9.\-[\]:]{1,255}$/.test(host) ? `http://${host}` : ctx.baseUrl()
  }

  async function handleSoap (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const stats = ctx.stats
    stats.totalCalls++
    stats.currentConcurrent++
    if (stats.currentConcurrent > stats.peakConcurrent) stats.peakConcurrent = stats.currentConcurrent
    let admitted = false
    let closed = false
    res.once('close', () => {
      closed = true
      stats.currentConcurrent--
      if (admitted) ctx.limits.release()
    })

    const knob = ctx.inspection ? ctx.knobs.next() : undefined
    const entry: LedgerEntry = { seq: ++seq, operation: '', receivedAt: ctx.clock().toISOString(), applied: false }
    if (knob) entry.knob = knob
    if (typeof req.headers.traceparent === 'string') entry.traceparent = req.headers.traceparent
    if (ctx.inspection) {
      ctx.ledger.push(entry)
      if (ctx.ledger.length > LEDGER_CAP) ctx.ledger.splice(0, ctx.ledger.length - LEDGER_CAP)
    }

    const answerFault = (fault: SimulatorFault, extra: Record<string, string> = {}): void => {
      entry.faultCode = fault.code
      entry.httpStatus = 500
      stats.faultsByCode[fault.code] = (stats.faultsByCode[fault.code] ?? 0) + 1
      send(res, 500, faultXml(fault.code, fault.detailMessage), XML_TYPE, extra)
    }

    try {
      const raw = await readBody(req, ctx.maxBodyBytes)
      if (raw === 'too-large') {
        // Answer at once and drain the rest, so the client reads the fault instead of a reset.
        answerFault(new SimulatorFault(20012, `Request body exceeds ${ctx.maxBodyBytes} bytes`), { Connection: 'close' })
        req.resume()
        return
      }
      let xml: string
      try {
        xml = new TextDecoder('utf-8', { fatal: true }).decode(raw)
      } catch {
        throw new SimulatorFault(20018, 'Request is not valid UTF-8')
      }
      const request = readEnvelope(parseXml(xml))
      entry.operation = request.operation
      entry.mktowsUserId = request.auth?.mktowsUserId
      entry.requestTimestamp = request.auth?.requestTimestamp
      entry.requestSignature = request.auth?.requestSignature
      let objects: MObject[] | undefined
      if (request.operation === 'syncMObjects' || request.operation === 'deleteMObjects') {
        try {
          objects = readMObjectList(request.params)
          entry.objects = objects
        } catch { /* reported below, after authentication */ }
      }

      if (knob && (knob.fault !== undefined || knob.html502 || knob.empty200 || knob.hostile || knob.resetBeforeApply)) {
        if (knob.latencyMs) await sleep(knob.latencyMs)
        if (knob.resetBeforeApply) { resetConnection(req); return }
        if (knob.fault !== undefined) { answerFault(new SimulatorFault(knob.fault)); return }
        if (knob.html502) { entry.httpStatus = 502; send(res, 502, HTML_502, 'text/html'); return }
        if (knob.empty200) { entry.httpStatus = 200; send(res, 200, '', XML_TYPE); return }
        entry.httpStatus = 200
        res.writeHead(200, { 'Content-Type': XML_TYPE })
        await writeChunks(res, hostileBody(knob))
        return
      }

      verifyAuth(ctx, request.auth)
      ctx.limits.admit(ctx.clock())
      admitted = true
      if (closed) { admitted = false; ctx.limits.release() }
      if (knob?.latencyMs) await sleep(knob.latencyMs)

      let body: string
      const failObjects = knob?.failObjects ? new Set(knob.failObjects) : undefined
      const max = ctx.limits.limits.maxObjectsPerCall
      switch (request.operation) {
        case 'syncMObjects':
        case 'deleteMObjects': {
          const list = objects ?? readMObjectList(request.params)
          const syncOp = request.operation === 'syncMObjects' ? readSyncOperation(request.params) : undefined
          if (syncOp) entry.syncOperation = syncOp
          if (max !== null && list.length > max) throw new SimulatorFault(20110, `Too many MObjects: ${list.length}, the maximum is ${max}`)
          const statuses = adjustStatuses(syncOp ? ctx.store.sync(syncOp, list, { failObjects }) : ctx.store.remove(list, { failObjects }), knob)
          entry.applied = true
          entry.statuses = statuses
          body = syncOp ? renderSync(statuses) : renderDelete(statuses)
          break
        }
        case 'getMObjects':
          body = renderGet(ctx.store.get(readGetMObjects(request.params)))
          entry.applied = true
          break
        case 'describeMObject': {
          const name = childText(request.params, 'objectName')
          if (!child(request.params, 'objectName') || !name) throw new SimulatorFault(20109, 'objectName is required')
          body = renderDescribe(ctx.store.describe(name))
          entry.applied = true
          break
        }
        default:
          throw new SimulatorFault(20019, WSDL_OPERATIONS.has(request.operation)
            ? `Operation ${request.operation} is not supported by this simulator`
            : `Operation ${request.operation.slice(0, 60)} is not defined in the Marketo API WSDL`)
      }

      if (knob?.resetAfterApply) { resetConnection(req); return }
      entry.httpStatus = 200
      if (knob?.truncated) {
        const full = Buffer.from(body)
        send(res, 200, full.subarray(0, Math.floor(full.length / 2)))
        return
      }
      if (knob?.dribble) {
        res.writeHead(200, { 'Content-Type': XML_TYPE, 'Content-Length': String(Buffer.byteLength(body)) })
        await writeChunks(res, slices(body, Math.max(1, knob.dribble.chunkBytes)), knob.dribble.intervalMs)
        return
      }
      send(res, 200, body)
    } catch (err) {
      if (err instanceof SimulatorFault) {
        answerFault(err)
      } else {
        ctx.logger?.warn({ err }, 'simulator: unexpected error')
        answerFault(new SimulatorFault(20011, 'Internal error'))
      }
    }
  }

  return (req, res) => {
    const url = req.url ?? '/'
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    const query = q === -1 ? '' : url.slice(q + 1)
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      send(res, 200, '{"status":"ok"}', 'application/json')
      return
    }
    if (ctx.admin && path.startsWith('/__admin/')) {
      ctx.admin(req, res, path)
      return
    }
    if (ctx.rest && (path.startsWith('/identity/') || path.startsWith('/rest/'))) {
      ctx.rest(req, res, path, query)
      return
    }
    if (path !== ENDPOINT_PATH) {
      send(res, 404, 'Not Found\n', 'text/plain')
      return
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && /^wsdl$/i.test(query)) {
      send(res, 200, rewriteWsdl(ctx.wsdlTemplate, baseFromHost(req) + ENDPOINT_PATH))
      return
    }
    if (req.method !== 'POST') {
      send(res, 405, 'Method Not Allowed\n', 'text/plain', { Allow: 'POST' })
      return
    }
    handleSoap(req, res).catch((err: unknown) => {
      ctx.logger?.warn({ err }, 'simulator: failed to answer')
      if (!res.headersSent) send(res, 500, faultXml(20011, 'Internal error'))
      else res.destroy()
    })
  }
}
