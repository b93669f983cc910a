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
}

type Callback = (err: Error | null, res?: http.IncomingMessage, body?: string) => void

export class SoapHttpTransport {
  // strong-soap reads `prettyPrint` from its httpClient's options.
  readonly options = { prettyPrint: false }
  private readonly httpAgent: http.Agent
  private readonly httpsAgent: https.Agent
  private readonly opts: Required<Omit<TransportOptions, 'ca'>> & { ca?: string | Buffer }

  constructor (opts: TransportOptions) {
    this.opts = {
      maxNestingDepth: 64,
      idleSocketTimeoutMs: 4_000,
      maxSockets: 32,
      ...opts
    }
    const agentOptions = { keepAlive: true, maxSockets: this.opts.maxSockets, timeout: this.opts.idleSocketTimeoutMs }
    this.httpAgent = new http.Agent(agentOptions)
    // TLS verification is always on; a private CA may be added, never switched off.
    this.httpsAgent = new https.Agent({ ...agentOptions, rejectUnauthorized: true, ca: this.opts.ca })
  }

  close (): void {
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
  }

  request (rurl: string, data: string | null, callback: Callback, exheaders?: Record<string, string>, exoptions?: CallHints): http.ClientRequest | undefined {
    const hints: CallHints = exoptions ?? {}
    const progress = hints.progress ?? { sent: false }
    let url: URL
    try {
      url = new URL(rurl)
    } catch (err) {
      callback(new TransportError('connect', 'invalid endpoint URL', { sent: false, cause: err }))
      return undefined
    }
    const isHttps = url.protocol === 'https:'
    const body = data ?? ''
    const headers: Record<string, string | number> = {
      Accept: 'text/xml, application/xml;q=0.9',
      'Content-Type': 'text/xml; charset=utf-8',
      ...exheaders,
      'Content-Length': Buffer.byteLength(body, 'utf8'),
      Connection: 'keep-alive'
    }
    const now = Date.now()
    const deadline = hints.deadline ?? now + this.opts.defaultTimeoutMs
    const remaining = deadline - now

    let done = false
    const finish = (err: Error | null, res?: http.IncomingMessage, text?: string): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      hints.signal?.removeEventListener('abort', onAbort)
      callback(err, res, text)
    }

    if (remaining <= 0) {
      process.nextTick(() => finish(new TransportError('timeout', 'deadline passed before the call started', { sent: false })))
      return undefined
    }

    const req = (isHttps ? https : http).request(url, {
      method: data === null ? 'GET' : 'POST',
      headers,
      agent: isHttps ? this.httpsAgent : this.httpAgent
    })

    const fail = (err: TransportError): void => {
      finish(err)
      req.destroy()
    }

    const timer = setTimeout(() => {
      fail(new TransportError('timeout', `no complete answer within ${remaining} ms`, { sent: progress.sent }))
    }, remaining)
    const onAbort = (): void => fail(new TransportError('aborted', 'call aborted', { sent: progress.sent }))
    if (hints.signal?.aborted === true) {
      process.nextTick(onAbort)
    } else {
      hints.signal?.addEventListener('abort', onAbort, { once: true })
    }

    req.on('finish', () => { progress.sent = true })
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (progress.sent) {
        finish(new TransportError('reset', 'connection lost after the request was sent', { sent: true, syscallCode: err.code, cause: err }))
      } else {
        finish(new TransportError('connect', 'could not send the request', { sent: false, syscallCode: err.code, cause: err }))
      }
    })
    req.on('response', (res) => {
      const status = res.statusCode ?? 0
      const contentType = String(res.headers['content-type'] ?? '')
      const declared = Number(res.headers['content-length'] ?? NaN)
      const isXml = /\bxml\b/i.test(contentType)
      // A SOAP fault comes as HTTP 500 with an XML envelope; anything else that is not 200 XML is
      // not a Marketo answer. 4xx means the call never reached the service; 5xx may have.
      if ((status !== 200 && status !== 500) || !isXml) {
        res.resume()
        const sent = !(status >= 400 && status < 500)
        fail(new TransportError(isXml ? 'http_status' : 'bad_content', `unexpected HTTP ${status} ${contentType || 'without content type'}`, { sent, httpStatus: status }))
        return
      }
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
      res.on('error', (err) => {
        fail(new TransportError('reset', 'response interrupted', { sent: true, httpStatus: status, cause: err }))
      })
      res.on('aborted', () => {
        fail(new TransportError('reset', 'response interrupted', { sent: true, httpStatus: status }))
      })
      res.on('end', () => {
        if (done) return
        const text = Buffer.concat(chunks, size).toString('utf8')
        const problem = inspectXml(text, this.opts.maxNestingDepth)
        if (problem !== undefined) {
          finish(new TransportError(problem === 'empty' ? 'bad_content' : 'hostile', `response rejected: ${problem}`, { sent: true, httpStatus: status }))
          return
        }
        finish(null, res, text)
      })
    })
    req.end(body)
    return req
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
