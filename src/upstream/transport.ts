import http from 'node:http'
import https from 'node:https'

// strong-soap's default transport sends `Connection: close`, treats its timeout as a header timeout
// only, never checks the HTTP status and has no size cap (CONTRACT.md §4). This one replaces it:
// keep-alive, one deadline over connect + headers + body, a response size cap, a status and
// content check, and a record of whether the request bytes left this process.

export type TransportFailure =
  | 'connect' // nothing was written: refused, DNS, TLS, reset before the body was flushed
  | 'timeout'
  | 'reset' // connection lost after the request was written
  | 'too_large'
  | 'http_status'
  | 'bad_content'
  | 'hostile'
  | 'aborted'

export class TransportError extends Error {
  readonly kind: TransportFailure
  readonly sent: boolean
  readonly httpStatus?: number
  readonly syscallCode?: string

  constructor (kind: TransportFailure, message: string, opts: { sent: boolean, httpStatus?: number, syscallCode?: string, cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = 'TransportError'
    this.kind = kind
    this.sent = opts.sent
    this.httpStatus = opts.httpStatus
    this.syscallCode = opts.syscallCode
  }
}

export interface TransportOptions {
  maxResponseBytes: number
  defaultTimeoutMs: number
  maxNestingDepth?: number
  ca?: string | Buffer
  // Idle keep-alive sockets are dropped before a typical server's 5 s keep-alive timeout.
  idleSocketTimeoutMs?: number
  maxSockets?: number
}

// Per-call hints, passed through strong-soap's per-call `options` argument.
export interface CallHints {
  deadline?: number
  signal?: AbortSignal
  // Set to true as soon as the request body has been handed to the socket.
  progress?: { sent: boolean }
  // W3C traceparent of the attempt's span (only when tracing is configured): sent as a header.
  traceparent?: string
  // Set by the backend from the answer: Marketo's id of it (REST requestId), for the log of a failed call.
  upstreamRequestId?: string
}

export interface BoundedRequest {
  method: 'GET' | 'POST'
  url: string
  headers?: Record<string, string>
  body?: string
}

export interface BoundedResponse {
  status: number
  contentType: string
  headers: http.IncomingHttpHeaders
  text: string
}

// Decides from status and content type, before the body is read, whether an answer can be from
// the service at all; returns the failure to report, or undefined to read the body.
export type AnswerCheck = (status: number, contentType: string) => TransportError | undefined

// The HTTP core of both backends: keep-alive agents, one deadline over connect + headers + body
// (a dribbled body is cut off), a response size cap, and a record of whether the request bytes
// left this process (the `sent` semantics every GatewayError carries). node:http rather than
// fetch: fetch cannot tell whether a failed request was written.
export class BoundedHttp {
  private readonly httpAgent: http.Agent
  private readonly httpsAgent: https.Agent

  constructor (private readonly opts: TransportOptions) {
    // Idle keep-alive sockets are dropped before a typical server's 5 s keep-alive timeout.
    const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 32, timeout: opts.idleSocketTimeoutMs ?? 4_000 }
    this.httpAgent = new http.Agent(agentOptions)
    // TLS verification is always on; a private CA may be added, never switched off.
    this.httpsAgent = new https.Agent({ ...agentOptions, rejectUnauthorized: true, ca: opts.ca })
  }

  close (): void {
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
  }

  request (r: BoundedRequest, hints: CallHints = {}, check?: AnswerCheck): Promise<BoundedResponse> {
    return new Promise((resolve, reject) => {
      const progress = hints.progress ?? { sent: false }
      let url: URL
      try {
        url = new URL(r.url)
      } catch (err) {
        reject(new TransportError('connect', 'invalid endpoint URL', { sent: false, cause: err }))
        return
      }
      const isHttps = url.protocol === 'https:'
      const body = r.body ?? ''
      const headers: Record<string, string | number> = { ...r.headers, Connection: 'keep-alive' }
      if (r.method === 'POST') headers['Content-Length'] = Buffer.byteLength(body, 'utf8')
      if (hints.traceparent !== undefined) headers.traceparent = hints.traceparent
      const now = Date.now()
      const deadline = hints.deadline ?? now + this.opts.defaultTimeoutMs
      const remaining = deadline - now
      if (remaining <= 0) {
        reject(new TransportError('timeout', 'deadline passed before the call started', { sent: false }))
        return
      }
      let done = false
      const finish = (err: Error | null, res?: BoundedResponse): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        hints.signal?.removeEventListener('abort', onAbort)
        if (err !== null) reject(err)
        else resolve(res as BoundedResponse)
      }
      const req = (isHttps ? https : http).request(url, { method: r.method, headers, agent: isHttps ? this.httpsAgent : this.httpAgent })
      const fail = (err: TransportError): void => {
        finish(err)
        req.destroy()
      }
      const timer = setTimeout(() => {
        fail(new TransportError('timeout', `no complete answer within ${remaining} ms`, { sent: progress.sent }))
      }, remaining)
      const onAbort = (): void => fail(new TransportError('aborted', 'call aborted', { sent: progress.sent }))
      if (hints.signal?.aborted === true) process.nextTick(onAbort)
      else hints.signal?.addEventListener('abort', onAbort, { once: true })

      req.on('finish', () => { progress.sent = true })
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (progress.sent) finish(new TransportError('reset', 'connection lost after the request was sent', { sent: true, syscallCode: err.code, cause: err }))
        else finish(new TransportError('connect', 'could not send the request', { sent: false, syscallCode: err.code, cause: err }))
      })
      req.on('response', (res) => {
        const status = res.statusCode ?? 0
        const contentType = String(res.headers['content-type'] ?? '')
        const rejected = check?.(status, contentType)
        if (rejected !== undefined) {
          res.resume()
          fail(rejected)
          return
        }
        const declared = Number(res.headers['content-length'] ?? NaN)
        if (declared > this.opts.maxResponseBytes) {
          res.resume()
          fail(new TransportError('too_large', `response of ${declared} bytes exceeds the cap`, { sent: true, httpStatus: status }))
          return
        }
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > this.opts.maxResponseBytes) {
            fail(new TransportError('too_large', 'response exceeds the size cap', { sent: true, httpStatus: status }))
            return
          }
          chunks.push(chunk)
        })
        res.on('error', (err) => fail(new TransportError('reset', 'response interrupted', { sent: true, httpStatus: status, cause: err })))
        res.on('aborted', () => fail(new TransportError('reset', 'response interrupted', { sent: true, httpStatus: status })))
        res.on('end', () => {
          if (done) return
          finish(null, { status, contentType, headers: res.headers, text: Buffer.concat(chunks, size).toString('utf8') })
        })
      })
      req.end(r.method === 'POST' ? body : undefined)
    })
  }
}

// A SOAP fault comes as HTTP 500 with an XML envelope; anything else that is not 200 XML is not a
// Marketo answer. 4xx means the call never reached the service; 5xx may have.
const soapAnswerCheck: AnswerCheck = (status, contentType) => {
  const isXml = /\bxml\b/i.test(contentType)
  if ((status === 200 || status === 500) && isXml) return undefined
  const sent = !(status >= 400 && status < 500)
  return new TransportError(isXml ? 'http_status' : 'bad_content', `unexpected HTTP ${status} ${contentType || 'without content type'}`, { sent, httpStatus: status })
}

// strong-soap's httpClient interface over BoundedHttp, plus the XML pre-scan.
type Callback = (err: Error | null, res?: { statusCode: number, headers: http.IncomingHttpHeaders }, body?: string) => void

export class SoapHttpTransport {
  // strong-soap reads `prettyPrint` from its httpClient's options.
  readonly options = { prettyPrint: false }
  private readonly http: BoundedHttp
  private readonly maxNestingDepth: number

  constructor (opts: TransportOptions) {
    this.http = new BoundedHttp(opts)
    this.maxNestingDepth = opts.maxNestingDepth ?? 64
  }

  close (): void {
    this.http.close()
  }

  request (rurl: string, data: string | null, callback: Callback, exheaders?: Record<string, string>, exoptions?: CallHints): undefined {
    const headers = { Accept: 'text/xml, application/xml;q=0.9', 'Content-Type': 'text/xml; charset=utf-8', ...exheaders }
    this.http.request({ method: data === null ? 'GET' : 'POST', url: rurl, headers, body: data ?? '' }, exoptions ?? {}, soapAnswerCheck).then((res) => {
      const problem = inspectXml(res.text, this.maxNestingDepth)
      if (problem !== undefined) {
        callback(new TransportError(problem === 'empty' ? 'bad_content' : 'hostile', `response rejected: ${problem}`, { sent: true, httpStatus: res.status }))
        return
      }
      callback(null, { statusCode: res.status, headers: res.headers }, res.text)
    }, (err: Error) => callback(err))
    return undefined
  }
}

// A linear pre-scan before strong-soap's parser sees the text: no DTDs at all (so no entities),
// and a bounded nesting depth (sax is quadratic on very deep documents).
export function inspectXml (text: string, maxDepth: number): string | undefined {
  if (text.trim() === '') return 'empty'
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) return 'DTD not allowed'
  let depth = 0
  let i = text.indexOf('<')
  while (i !== -1) {
    const next = text.charCodeAt(i + 1)
    if (next === 47 /* / */) {
      depth--
    } else if (next !== 63 /* ? */ && next !== 33 /* ! */) {
      const close = text.indexOf('>', i)
      if (close === -1) return 'truncated'
      if (text.charCodeAt(close - 1) !== 47) {
        depth++
        if (depth > maxDepth) return 'nesting too deep'
      }
      i = close
    }
    i = text.indexOf('<', i + 1)
  }
  if (depth !== 0) return 'truncated'
  return undefined
}
