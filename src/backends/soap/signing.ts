import { createHmac } from 'node:crypto'

export interface AuthenticationHeader {
  mktowsUserId: string
  requestSignature: string
  requestTimestamp: string
}

// Marketo signs the exact timestamp string sent, concatenated with the user id (no separator).
export function computeSignature (encryptionKey: string, requestTimestamp: string, userId: string): string {
  return createHmac('sha1', encryptionKey).update(requestTimestamp + userId, 'utf8').digest('hex')
}

// W3C date-time with an explicit offset, the form Marketo's docs use (e.g. 2013-06-09T14:04:54-08:00).
export function formatTimestamp (date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, '+00:00')
}

export function signRequest (userId: string, encryptionKey: string, now: Date): AuthenticationHeader {
  const requestTimestamp = formatTimestamp(now)
  return { mktowsUserId: userId, requestSignature: computeSignature(encryptionKey, requestTimestamp, userId), requestTimestamp }
}
