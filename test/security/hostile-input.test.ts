import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import fc from 'fast-check'
import { GatewayError } from '../../src/domain/errors.js'
import { parseJsonBody, scanJson, MAX_JSON_DEPTH } from '../../src/http/plugins/json-parser.js'
import { startGateway, request, syncCalls, type TestGateway } from '../helpers/gateway.js'

const json = { 'content-type': 'application/json' }

// Node's and undici's clients refuse control characters in headers; a raw socket does not.
function rawRequest (url: string, head: string): Promise<string> {
  const { port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(head + 'connection: close\r\n\r\n'))
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (c: string) => { text += c })
    socket.on('end', () => resolve(text))
    socket.on('error', reject)
  })
}

function code (fn: () => unknown): string | undefined {
  try {
    fn()
    return undefined
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err))
    return err.code
  }
}

describe('JSON scanner units', () => {
  const table: Array<[string, string | undefined]> = [
    ['{"a":1,"b":[1,{"a":2}],"c":{"a":3}}', undefined],
    ['{"a":"x\\"y","b":"\\\\","c":"\\\\\\""}', undefined],
    ['{"a":1,"a":2}', 'MALFORMED_JSON'],
    ['{"a":1,"\\u0061":2}', 'MALFORMED_JSON'],
    ['{"x":{"a":1,"b":{"a":1},"a":2}}', 'MALFORMED_JSON'],
    ['[{"a":1},{"a":1}]', undefined],
    ['{"__proto__":{}}', 'MALFORMED_JSON'],
    ['{"\\u005f_proto__":{}}', 'MALFORMED_JSON'],
    ['[{"__proto__":1}]', 'MALFORMED_JSON'],
    ['{"constructor":{"prototype":{}}}', 'MALFORMED_JSON'],
    ['{"a":"__proto__","b":["constructor"]}', undefined],
    ['{"a":{"$xml":"<x/>"}}', 'VALIDATION_FAILED'],
    ['[{"$attributes":{}}]', 'VALIDATION_FAILED'],
    ['{"$value":1}', 'VALIDATION_FAILED'],
    ['{"a":"$xml"}', undefined],
    ['['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH), undefined],
    ['['.repeat(MAX_JSON_DEPTH + 1) + ']'.repeat(MAX_JSON_DEPTH + 1), 'MALFORMED_JSON'],
    ['', 'MALFORMED_JSON'],
    ['{"a":', 'MALFORMED_JSON'],
    ['{"a":1}x', 'MALFORMED_JSON']
  ]
  for (const [text, expected] of table) {
    it(`${text.slice(0, 50)} → ${expected ?? 'ok'}`, () => {
      assert.equal(code(() => parseJsonBody(text)), expected)
    })
  }
  it('errors name the path', () => {
    assert.throws(() => scanJson('{"a":[0,{"b":1,"b":2}]}'), /duplicate key "b" at \/a\/1/)
    assert.throws(() => scanJson('{"a":[0,{"$xml":1}]}'), /\/a\/1\/\$xml is not an allowed key/)
  })
  it('agrees with JSON.parse on arbitrary JSON without duplicates (property)', () => {
    fc.assert(fc.property(fc.json({ depthSize: 'small' }), (text) => {
      const value = JSON.parse(text)
      const c = code(() => parseJsonBody(text))
      if (c === undefined) assert.deepEqual(parseJsonBody(text), value)
      else assert.ok(/__proto__|constructor|\$xml|\$attributes|\$value/.test(text), text)
    }), { numRuns: 500 })
  })
  // Speed is the bench's business (never a timed assertion here): this pins the rejection itself.
  it('rejects 400k nesting', () => {
    const text = '['.repeat(400_000) + ']'.repeat(400_000)
    assert.equal(code(() => parseJsonBody(text)), 'MALFORMED_JSON')
  })
})

describe('hostile input through the gateway (B8, B10, B14, S8)', () => {
  let gw: TestGateway
  // No rate windows: the property test sends more calls than Marketo's 100 per 20 s.
  before(async () => { gw = await startGateway({ env: { MARKETO_RATE_LIMIT_WINDOW_MS: '0' }, simulator: { limits: { rateLimit: null } } }) })
  after(async () => { await gw.close() })

  const cases: Array<{ name: string, raw: string, code: string }> = [
    { name: '__proto__ at the top level', raw: '{"__proto__":{"polluted":1},"opportunities":[{"name":"x"}]}', code: 'MALFORMED_JSON' },
    { name: '__proto__ in an object', raw: '{"opportunities":[{"name":"x","customFields":{"__proto__":{"polluted":1}}}]}', code: 'MALFORMED_JSON' },
    { name: '__proto__ in an array element', raw: '{"opportunities":[{"__proto__":{"polluted":1},"name":"x"}]}', code: 'MALFORMED_JSON' },
    { name: 'constructor.prototype', raw: '{"opportunities":[{"name":"x","constructor":{"prototype":{"polluted":1}}}]}', code: 'MALFORMED_JSON' },
    { name: 'escaped __proto__', raw: '{"\\u005f\\u005fproto__":{"polluted":1},"opportunities":[{"name":"x"}]}', code: 'MALFORMED_JSON' },
    { name: '$xml key', raw: '{"opportunities":[{"name":"x","$xml":"<a/>"}]}', code: 'VALIDATION_FAILED' },
    { name: '$attributes key', raw: '{"opportunities":[{"name":"x","customFields":{"$attributes":{"xsi:type":"x"}}}]}', code: 'VALIDATION_FAILED' },
    { name: '$value key', raw: '{"mObjects":[{"type":"Opportunity","$value":"<a/>"}],"operation":"UPSERT"}', code: 'VALIDATION_FAILED' },
    { name: 'duplicate amount (B10)', raw: '{"opportunities":[{"name":"x","amount":1,"amount":1000000}]}', code: 'MALFORMED_JSON' },
    { name: 'deep nesting inside the limit (B14)', raw: '{"opportunities":' + '['.repeat(400_000) + ']'.repeat(400_000) + '}', code: 'MALFORMED_JSON' }
  ]
  for (const c of cases) {
    it(`${c.name} → 400 ${c.code}, quickly, nothing upstream`, async () => {
      const path = c.raw.includes('mObjects') ? '/mobjects/sync' : '/opportunities'
      const before = gw.sim.ledger.length
      const h = monitorEventLoopDelay({ resolution: 10 })
      h.enable()
      const t = performance.now()
      const res = await request(gw.url + path, { rawBody: c.raw, headers: json })
      const ms = performance.now() - t
      h.disable()
      assert.equal(res.status, 400, res.text)
      assert.equal(res.body.code, c.code)
      assert.equal(gw.sim.ledger.length, before)
      assert.equal(({} as Record<string, unknown>).polluted, undefined)
      assert.equal(Object.getPrototypeOf({}), Object.prototype)
      assert.ok(ms < 500, `${ms} ms`)
      assert.ok(h.max / 1e6 < 100, `event loop blocked ${h.max / 1e6} ms`)
    })
  }

  it('S8: a 10 KB request id → 400 INVALID_HEADER, a fresh id, one log line', async () => {
    const res = await request(`${gw.url}/healthz`, { headers: { 'x-request-id': 'r'.repeat(10_000) } })
    assert.equal(res.status, 400)
    assert.equal(res.body.code, 'INVALID_HEADER')
    const id = res.headers.get('x-request-id') ?? ''
    assert.ok(id.length <= 128 && id === res.body.requestId)
    assert.ok(!gw.logs.join('').includes('r'.repeat(129)))
  })

  it('S8: a request id with a newline or ANSI escape → 400, log line count unchanged', async () => {
    const count = (): number => gw.logs.join('').split('\n').length
    const baseline = count()
    await request(`${gw.url}/nothing`, { method: 'GET' })
    const perRequest = count() - baseline
    for (const bad of ['a\u001b[31mred\u001b[0m', 'a\tb', 'a\u0085b']) {
      const before = count()
      const res = await rawRequest(gw.url, `GET /healthz HTTP/1.1\r\nhost: x\r\nx-request-id: ${bad}\r\n`)
      // Either Node's parser (ESC) or the gateway (TAB, C1) rejects it; both answer problem+json.
      assert.match(res, /^HTTP\/1\.1 400 /)
      assert.match(res, /content-type: application\/problem\+json/i)
      assert.match(res, /x-content-type-options: nosniff/i)
      assert.match(res, /"code":"INVALID_HEADER"/)
      assert.ok(count() - before <= perRequest + 1)
      assert.ok(!gw.logs.join('').includes('\u001b'))
    }
    // A bare newline ends the header: Node's parser rejects the request before the gateway sees it.
    const before = count()
    const split = await rawRequest(gw.url, 'GET /healthz HTTP/1.1\r\nhost: x\r\nx-request-id: a\nfake-log-line\r\n')
    assert.match(split, /^HTTP\/1\.1 400 /)
    assert.ok(count() - before <= perRequest + 1)
    assert.ok(!gw.logs.join('').includes('fake-log-line'))
  })

  it('property: every string that passes validation reaches the simulator byte-identical', async () => {
    const special = fc.constantFrom('<', '>', '&', '&amp;', ']]>', '"', "'", '\\', '$xml', '\u2028', '\u00a0', '\ud83d\ude00', '\u0085', '\r\n', '\t', '&#x0;', '<![CDATA[')
    const piece = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), special)
    const text = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''))
    let accepted = 0
    let n = 0
    await fc.assert(fc.asyncProperty(text, async (value) => {
      const calls = syncCalls(gw.sim)
      const res = await request(`${gw.url}/opportunities`, {
        body: { opportunities: [{ externalKey: { name: 'opportunityId', value: `prop-${n++}` }, name: 'p', description: value }] }
      })
      if (res.status === 400) {
        assert.equal(syncCalls(gw.sim), calls)
        return
      }
      assert.equal(res.status, 200, res.text)
      accepted++
      const sent = gw.sim.ledger.at(-1)?.objects?.[0]?.attribs?.find((a) => a.name === 'Description')?.value
      assert.equal(sent, value)
    }), { numRuns: 120 })
    assert.ok(accepted > 50, `only ${accepted} accepted`)
  })
})
