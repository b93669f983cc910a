import { GatewayError } from '../../domain/errors.js'
import type { CallHints } from '../../upstream/transport.js'
import type { BoundedHttp } from '../../upstream/transport.js'

// OAuth2 client credentials (POST <identity>/oauth/token, form body: the secret never goes into a
// URL, where proxies and logs would keep it). Marketo hands back the same token while it is valid,
// `expires_in` counting down its seconds (0: expired), so asking early gains nothing: the token is
// used until it expires, and one refresh in flight is shared by every caller.

export interface TokenCacheOptions {
  http: BoundedHttp
  /** The token URL: the identity endpoint + /oauth/token. */
  tokenUrl: string
  clientId: string
  clientSecret: string
  now?: () => number
}

interface Cached { token: string, expiresAt: number }

/** Token requests in one refresh: a token answered as already expired (expires_in 0) is asked for once more. */
const MAX_FETCHES_PER_REFRESH = 2

export class TokenCache {
  private cached: Cached | undefined
  private inflight: Promise<string> | undefined
  private readonly now: () => number
  /** Token requests sent so far (metrics and tests). */
  fetches = 0

  constructor (private readonly opts: TokenCacheOptions) {
    this.now = opts.now ?? Date.now
  }

  async get (hints: CallHints): Promise<string> {
    if (this.cached !== undefined && this.now() < this.cached.expiresAt) return this.cached.token
    this.inflight ??= this.refresh(hints).finally(() => { this.inflight = undefined })
    return await this.inflight
  }

  /** Forget `token` after Marketo rejected it (601/602); a newer token is kept. */
  invalidate (token: string): void {
    if (this.cached?.token === token) this.cached = undefined
  }

  private async refresh (hints: CallHints): Promise<string> {
    let answer = await this.fetch(hints)
    for (let n = 1; answer.expiresInS <= 0 && n < MAX_FETCHES_PER_REFRESH; n++) answer = await this.fetch(hints)
    // Still expired: used for this call alone (a 602 then refreshes once more), never cached.
    if (answer.expiresInS > 0) this.cached = { token: answer.token, expiresAt: answer.askedAt + answer.expiresInS * 1_000 }
    return answer.token
  }

  private async fetch (hints: CallHints): Promise<{ token: string, expiresInS: number, askedAt: number }> {
    this.fetches++
    // The countdown is measured from when the token was asked for: never later than Marketo's.
    const askedAt = this.now()
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: this.opts.clientId, client_secret: this.opts.clientSecret }).toString()
    // The token call never applies anything: its progress is not the data call's.
    const res = await this.opts.http.request({
      method: 'POST',
      url: this.opts.tokenUrl,
      headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
      body
    }, { deadline: hints.deadline, signal: hints.signal, traceparent: hints.traceparent })
    let parsed: { access_token?: unknown, expires_in?: unknown, error?: unknown } | undefined
    try { parsed = JSON.parse(res.text) } catch { parsed = undefined }
    if (res.status === 401 || res.status === 400 || (res.status === 200 && typeof parsed?.access_token !== 'string')) {
      throw new GatewayError('UPSTREAM_AUTH', `Marketo refused the gateway's REST client credentials (HTTP ${res.status}${typeof parsed?.error === 'string' ? `, ${parsed.error.slice(0, 60)}` : ''})`, { sent: false })
    }
    if (res.status === 404) {
      throw new GatewayError('UPSTREAM_REJECTED', 'Marketo\'s identity service answered HTTP 404: check MARKETO_IDENTITY_ENDPOINT (or MARKETO_REST_ENDPOINT), as Admin > Web Services shows them', { sent: false, upstreamCode: 404 })
    }
    if (res.status !== 200 || parsed === undefined) {
      throw new GatewayError('UPSTREAM_UNAVAILABLE', `Marketo's identity service answered HTTP ${res.status}`, { sent: false, retryAfterMs: 1_000 })
    }
    const expiresIn = parsed.expires_in
    // Whole seconds left; 0 (or anything unreadable) is an expired token, not a fresh hour.
    const expiresInS = typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 0
    return { token: parsed.access_token as string, expiresInS, askedAt }
  }
}
