import { GatewayError } from '../../domain/errors.js'
import type { CallHints } from '../../upstream/transport.js'
import type { BoundedHttp } from '../../upstream/transport.js'

// OAuth2 client credentials (POST /identity/oauth/token, form body: the secret never goes into a
// URL, where proxies and logs would keep it). One token cached until shortly before expires_in,
// one refresh in flight shared by every caller.

export interface TokenCacheOptions {
  http: BoundedHttp
  endpoint: string
  clientId: string
  clientSecret: string
  now?: () => number
}

interface Cached { token: string, refreshAt: number }

export class TokenCache {
  private cached: Cached | undefined
  private inflight: Promise<string> | undefined
  private readonly now: () => number
  /** Tokens fetched so far (metrics and tests). */
  fetches = 0

  constructor (private readonly opts: TokenCacheOptions) {
    this.now = opts.now ?? Date.now
  }

  async get (hints: CallHints): Promise<string> {
    if (this.cached !== undefined && this.now() < this.cached.refreshAt) return this.cached.token
    this.inflight ??= this.fetch(hints).finally(() => { this.inflight = undefined })
    return await this.inflight
  }

  /** Forget `token` after Marketo rejected it (601/602); a newer token is kept. */
  invalidate (token: string): void {
    if (this.cached?.token === token) this.cached = undefined
  }

  private async fetch (hints: CallHints): Promise<string> {
    this.fetches++
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: this.opts.clientId, client_secret: this.opts.clientSecret }).toString()
    // The token call never applies anything: its progress is not the data call's.
    const res = await this.opts.http.request({
      method: 'POST',
      url: `${this.opts.endpoint}/identity/oauth/token`,
      headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
      body
    }, { deadline: hints.deadline, signal: hints.signal, traceparent: hints.traceparent })
    let parsed: { access_token?: unknown, expires_in?: unknown, error?: unknown } | undefined
    try { parsed = JSON.parse(res.text) } catch { parsed = undefined }
    if (res.status === 401 || res.status === 400 || (res.status === 200 && typeof parsed?.access_token !== 'string')) {
      throw new GatewayError('UPSTREAM_AUTH', `Marketo refused the gateway's REST client credentials (HTTP ${res.status}${typeof parsed?.error === 'string' ? `, ${parsed.error.slice(0, 60)}` : ''})`, { sent: false })
    }
    if (res.status !== 200 || parsed === undefined) {
      throw new GatewayError('UPSTREAM_UNAVAILABLE', `Marketo's identity service answered HTTP ${res.status}`, { sent: false, retryAfterMs: 1_000 })
    }
    const token = parsed.access_token as string
    const expiresInS = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 3_600
    // Refresh a little early: 10% of the lifetime, at most 60 s, so a call never starts with a token about to lapse.
    const margin = Math.min(60_000, expiresInS * 100)
    this.cached = { token, refreshAt: this.now() + expiresInS * 1_000 - margin }
    return token
  }
}
