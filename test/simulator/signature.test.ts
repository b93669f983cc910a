import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { expectedSignature, signatureMatches, w3cTimestamp } from '../../simulator/signature.js'

// The simulator's own AuthenticationHeader check, against the signatures printed in Marketo's
// SOAP docs (not against the gateway's signing code, so a gateway bug cannot be mirrored).

interface Vector { mktowsUserId: string, encryptionKey: string, requestTimestamp: string, requestSignature: string }
const { vectors } = JSON.parse(readFileSync(new URL('../fixtures/signature-test-vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] }

describe('simulator signature check', () => {
  it('computes every documented signature vector', () => {
    assert.equal(vectors.length, 18)
    for (const v of vectors) {
      assert.equal(expectedSignature(v.encryptionKey, v.requestTimestamp, v.mktowsUserId), v.requestSignature, v.requestTimestamp)
      assert.equal(signatureMatches(v.encryptionKey, v.requestTimestamp, v.mktowsUserId, v.requestSignature), true)
    }
  })

  it('refuses a signature over another timestamp, user or key, an uppercase one and a truncated one', () => {
    const v = vectors[0]
    const other = vectors.find((w) => w.requestTimestamp !== v.requestTimestamp) as Vector
    assert.equal(signatureMatches(v.encryptionKey, v.requestTimestamp, v.mktowsUserId, other.requestSignature), false)
    assert.equal(signatureMatches(v.encryptionKey, v.requestTimestamp, `${v.mktowsUserId}x`, v.requestSignature), false)
    assert.equal(signatureMatches('27272727ab', v.requestTimestamp, v.mktowsUserId, v.requestSignature), false)
    assert.equal(signatureMatches(v.encryptionKey, v.requestTimestamp, v.mktowsUserId, v.requestSignature.toUpperCase()), false)
    assert.equal(signatureMatches(v.encryptionKey, v.requestTimestamp, v.mktowsUserId, v.requestSignature.slice(0, -1)), false)
    assert.equal(signatureMatches(v.encryptionKey, v.requestTimestamp, v.mktowsUserId, ''), false)
  })

  it('hashes a key longer than the SHA-1 block first, as HMAC does (no documented vector has one)', () => {
    const key = 'k'.repeat(65) + 'é'
    const want = createHmac('sha1', key).update('2013-08-20T11:42:32-07:00demo').digest('hex')
    assert.equal(expectedSignature(key, '2013-08-20T11:42:32-07:00', 'demo'), want)
  })

  it('formats timestamps as W3C date-times with an offset', () => {
    assert.equal(w3cTimestamp(new Date('2024-05-01T12:00:00.123Z')), '2024-05-01T12:00:00+00:00')
  })
})
