import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { GatewayError } from '../../domain/errors.js'

/**
 * A read cursor is opaque to callers: base64url JSON of Marketo's streamPosition (`sp`), how many
 * objects of that Marketo page were already returned (`o`) and the id of the last one (`a`), a
 * hash of the filters (`f`), so a cursor is refused with other filters, and a MAC (`m`) over all
 * of them, so a cursor whose position was edited is refused (400) instead of skipping objects or
 * reaching Marketo with a stream position Marketo never issued.
 */
export interface CursorState {
  sp?: string
  o: number
  a?: number
}

/** The filters a cursor is bound to: every query parameter but `cursor` and `limit`, in key order. */
export function filterHash (route: string, filters: Record<string, unknown>): string {
  const entries = Object.entries(filters).filter(([k, v]) => k !== 'cursor' && k !== 'limit' && v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1))
  return createHash('sha256').update(JSON.stringify([route, entries])).digest('base64url').slice(0, 16)
}

/** HMAC-SHA-256 truncated to 128 bits. */
const MAC_BYTES = 16

function invalid (message: string): GatewayError {
  return new GatewayError('VALIDATION_FAILED', `cursor ${message}`, { errors: [{ path: 'querystring:/cursor', message }] })
}

/**
 * Signs and checks cursors. The key is random per gateway instance unless one is given: a cursor
 * is then good only on the process that issued it, until it restarts.
 */
export class CursorCodec {
  readonly #key: Buffer

  constructor (key: Buffer = randomBytes(32)) {
    if (key.length < 16) throw new RangeError('a cursor key has at least 16 bytes')
    this.#key = key
  }

  #mac (state: CursorState, hash: string): Buffer {
    return createHmac('sha256', this.#key).update(JSON.stringify([state.sp ?? null, state.o, state.a ?? null, hash])).digest().subarray(0, MAC_BYTES)
  }

  encode (state: CursorState, hash: string): string {
    return Buffer.from(JSON.stringify({ ...state, f: hash, m: this.#mac(state, hash).toString('base64url') })).toString('base64url')
  }

  decode (cursor: string, hash: string): CursorState {
    const foreign = 'is not a cursor this gateway issued (altered, or from before a restart): start again without a cursor'
    let raw: unknown
    try {
      raw = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    } catch {
      throw invalid(foreign)
    }
    const c = raw as Record<string, unknown>
    if (c === null || typeof c !== 'object' || typeof c.f !== 'string' || typeof c.m !== 'string' ||
      typeof c.o !== 'number' || !Number.isSafeInteger(c.o) || c.o < 0 ||
      (c.sp !== undefined && typeof c.sp !== 'string') || (c.a !== undefined && (typeof c.a !== 'number' || !Number.isSafeInteger(c.a)))) {
      throw invalid(foreign)
    }
    const state: CursorState = { o: c.o }
    if (c.sp !== undefined) state.sp = c.sp as string
    if (c.a !== undefined) state.a = c.a as number
    const given = Buffer.from(c.m, 'base64url')
    if (given.length !== MAC_BYTES || !timingSafeEqual(given, this.#mac(state, c.f))) throw invalid(foreign)
    if (c.f !== hash) throw invalid('was issued for other filters: repeat the same filters, or start again without a cursor')
    return state
  }
}
