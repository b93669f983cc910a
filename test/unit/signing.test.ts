import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { computeSignature, formatTimestamp, signRequest } from '../../src/backends/soap/signing.js'

interface Vector { mktowsUserId: string, encryptionKey: string, requestTimestamp: string, requestSignature: string }
const { vectors } = JSON.parse(readFileSync(new URL('../fixtures/signature-test-vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] }

describe('signing', () => {
  it('has the 18 documented vectors', () => {
    assert.equal(vectors.length, 18)
  })

  for (const v of vectors) {
    it(`reproduces ${v.requestTimestamp}`, () => {
      assert.equal(computeSignature(v.encryptionKey, v.requestTimestamp, v.mktowsUserId), v.requestSignature)
    })
  }

  it('formats timestamps with an explicit offset and no milliseconds', () => {
    assert.equal(formatTimestamp(new Date('2013-06-09T22:04:54.123Z')), '2013-06-09T22:04:54+00:00')
  })

  it('signs the timestamp it sends', () => {
    const header = signRequest('user_1', 'secret', new Date('2020-01-01T00:00:00Z'))
    assert.deepEqual(header, {
      mktowsUserId: 'user_1',
      requestTimestamp: '2020-01-01T00:00:00+00:00',
      requestSignature: computeSignature('secret', '2020-01-01T00:00:00+00:00', 'user_1')
    })
    assert.match(header.requestSignature, /^[0-9a-f]{40}$/)
  })
})
