import http from 'node:http'
import https from 'node:https'
import { TransportError, type CallHints } from '../marketo/http-transport.js'

// The JSON twin of SoapHttpTransport: keep-alive agents, one deadline over connect + headers +
// body, a response size cap, and a record of whether the request bytes left this process (the
// `sent` semantics every GatewayError carries). node:http rather than fetch: fetch cannot tell
// whether a failed request was written, and a private CA needs an undici dispatcher on Node 20.

export interface RestHttpOptions {
  maxResponseBytes: number
  defaultTimeoutMs: number
  ca?: string | Buffer
  maxSockets?: number
  idleSocketTimeoutMs?: number
}

export interface RestHttpResponse {
  status: number
  contentType: string
  text: string
}

export interface RestHttpRequest {
  method: 'GET' | 'POST'
  url: string
  headers?: Record<string, string>
  body?: string
}

export class RestHttp {
  private readonly httpAgent: http.Agent
  private readonly httpsAgent: https.Agent

  constructor (private readonly opts: RestHttpOptions) {
    const agentOptions = { keepAlive: true, maxSockets: opts.maxSockets ?? 32, timeout: opts.idleSocketTimeoutMs ?? 4_000 }
    this.httpAgent = new http.Agent(agentOptions)
    this.httpsAgent = new https.Agent({ ...agentOptions, rejectUnauthorized: true, ca: opts.ca })
  }

  close (): void {
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
  }

  request (r: RestHttpRequest, hints: CallHints = {}): Promise<RestHttpResponse> {
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
      const headers: Record<string, string | number> = { Accept: 'application/json', ...r.headers, Connection: 'keep-alive' }
      if (r.method === 'POST') headers['Content-Length'] = Buffer.byteLength(body, 'utf8')
      const now = Date.now()
      const deadline = hints.deadline ?? now + this.opts.defaultTimeoutMs
      const remaining = deadline - now
      if (remaining <= 0) {
        reject(new TransportError('timeout', 'deadline passed before the call started', { sent: false }))
        return
      }
      let done = false
      const finish = (err: Error | null, res?: RestHttpResponse): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        hints.signal?.removeEventListener('abort', onAbort)
        if (err !== null) reject(err)
        else resolve(res as RestHttpResponse)
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
          finish(null, { status, contentType, text: Buffer.concat(chunks, size).toString('utf8') })
        })
      })
      req.end(r.method === 'POST' ? body : undefined)
    })
  }
}
