import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { startGateway, syncCalls, TEST_API_KEY, type TestGateway } from '../helpers/gateway.js'

interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  rawHeaders: string[]
  body: any
  text: string
}

// fetch merges repeated headers before sending; node:http sends an array of pairs as given, one
// header line per pair.
function rawRequest (url: string, method: string, headers: Array<[string, string]>, body?: unknown): Promise<RawResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body)
  // With an array of pairs node:http adds no Host header of its own (and Node's server requires one).
  const pairs: string[] = ['host', new URL(url).host]
  for (const [name, value] of headers) pairs.push(name, value)
  pairs.push('authorization', `Bearer ${TEST_API_KEY}`)
  if (payload !== undefined) pairs.push('content-type', 'application/json', 'content-length', String(Buffer.byteLength(payload)))
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: pairs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let parsed: unknown
        try { parsed = JSON.parse(text) } catch { parsed = undefined }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, body: parsed, text })
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

const requestIdLines = (res: RawResponse): string[] => {
  const values: string[] = []
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    if (res.rawHeaders[i].toLowerCase() === 'x-request-id') values.push(res.rawHeaders[i + 1])
  }
  return values
}

const write = (value: string) => ({ opportunities: [{ externalKey: { name: 'opportunityId', value }, name: value }] })

describe('x-request-id sent more than once (issue #12, defect 7)', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway() })
  after(async () => { await gw.close() })

  it('two x-request-id headers → 400 INVALID_HEADER, nothing sent to Marketo, one fresh id echoed', async () => {
    const calls = syncCalls(gw.sim)
    const res = await rawRequest(`${gw.url}/opportunities`, 'POST', [['x-request-id', 'first-id'], ['x-request-id', 'second-id']], write('dup-rid-1'))
    assert.equal(res.status, 400, res.text)
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    assert.equal(res.body.code, 'INVALID_HEADER')
    assert.equal(res.body.status, 400)
    assert.equal(syncCalls(gw.sim), calls, 'nothing sent to Marketo')
    const echoed = requestIdLines(res)
    assert.equal(echoed.length, 1, `one x-request-id in the answer: ${JSON.stringify(echoed)}`)
    assert.notEqual(echoed[0], 'first-id')
    assert.notEqual(echoed[0], 'second-id')
    assert.match(echoed[0], /^[0-9a-f-]{36}$/, 'a fresh id')
  })

  it('duplicates differing in case, and identical duplicates, are refused too; open paths included', async () => {
    for (const headers of [
      [['X-Request-Id', 'same-id'], ['x-request-id', 'same-id']],
      [['x-request-id', 'a'], ['X-REQUEST-ID', 'b'], ['x-Request-id', 'c']]
    ] as Array<Array<[string, string]>>) {
      const res = await rawRequest(`${gw.url}/healthz`, 'GET', headers)
      assert.equal(res.status, 400, `${JSON.stringify(headers)}: ${res.text}`)
      assert.equal(res.body.code, 'INVALID_HEADER')
      assert.equal(requestIdLines(res).length, 1)
    }
  })

  it('a single x-request-id is still accepted and echoed', async () => {
    const calls = syncCalls(gw.sim)
    const res = await rawRequest(`${gw.url}/opportunities`, 'POST', [['x-request-id', 'single-id-7']], write('dup-rid-2'))
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(requestIdLines(res), ['single-id-7'])
    assert.equal(syncCalls(gw.sim), calls + 1)
  })
})
