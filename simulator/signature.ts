import { createHash } from 'node:crypto'

// Marketo's SOAP AuthenticationHeader: requestSignature is the lowercase hex HMAC-SHA1, keyed by
// the encryption key, of requestTimestamp (exactly as sent) followed by mktowsUserId.
// Built here from SHA-1 and the RFC 2104 construction rather than crypto's HMAC, so a defect in
// how the gateway signs cannot be mirrored by how the simulator checks.

const BLOCK = 64

function sha1 (...parts: Buffer[]): Buffer {
  const h = createHash('sha1')
  for (const p of parts) h.update(p)
  return h.digest()
}

export function expectedSignature (encryptionKey: string, requestTimestamp: string, mktowsUserId: string): string {
  let key: Buffer = Buffer.from(encryptionKey, 'utf8')
  if (key.length > BLOCK) key = sha1(key)
  const inner = Buffer.alloc(BLOCK, 0x36)
  const outer = Buffer.alloc(BLOCK, 0x5c)
  for (let i = 0; i < key.length; i++) {
    inner[i] ^= key[i]
    outer[i] ^= key[i]
  }
  const message = Buffer.from(`${requestTimestamp}${mktowsUserId}`, 'utf8')
  return sha1(outer, sha1(inner, message)).toString('hex')
}

/** Constant-time comparison of a received signature with the expected one (case as Marketo sends: lowercase). */
export function signatureMatches (encryptionKey: string, requestTimestamp: string, mktowsUserId: string, received: string): boolean {
  const want = Buffer.from(expectedSignature(encryptionKey, requestTimestamp, mktowsUserId), 'latin1')
  const got = Buffer.from(received, 'latin1')
  if (got.length !== want.length) return false
  let diff = 0
  for (let i = 0; i < want.length; i++) diff |= want[i] ^ got[i]
  return diff === 0
}

/** W3C date-time with an explicit offset, as Marketo's docs print it (2013-06-09T14:04:54-08:00). */
export function w3cTimestamp (date: Date): string {
  const iso = date.toISOString()
  return `${iso.slice(0, 19)}+00:00`
}
