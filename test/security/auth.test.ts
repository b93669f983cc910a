import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { Writable } from 'node:stream'
import { buildApp } from '../../src/app.js'
import { ConfigError, loadConfig } from '../../src/config.js'
import { KeyRateLimiter, bearerToken, matchKey, sha256 } from '../../src/http/plugins/auth.js'
import { startGateway, request, hashKey, syncCalls, TEST_API_KEY, TEST_API_KEYS, type TestGateway } from '../helpers/gateway.js'

const opportunity = { opportunities: [{ externalKey: { name: 'opportunityId', value: 'auth-test-1' }, name: 'auth test' }] }
const realEndpoint = { MARKETO_SOAP_ENDPOINT: 'https://123-ABC-456.mktoapi.com/soap/mktows/2_3', MARKETO_USER_ID: 'u', MARKETO_ENCRYPTION_KEY: 'k' }

function parse (logs: string[]): Array<Record<string, any>> {
  return logs.flatMap((l) => l.split('\n')).filter((l) => l !== '').map((l) => JSON.parse(l))
}

// A raw request, so the body and headers go exactly as written.
function rawPost (url: string, path: string, headers: Record<string, string>, body: Buffer): Promise<{ status: number, headers: http.IncomingHttpHeaders, text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url + path, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }))
    })
    // The gateway may answer and close before it read the body: the answer is what counts.
    req.on('error', (err) => reject(err))
    req.end(body)
  })
}

describe('auth units', () => {
  const keys = [{ name: 'a', hash: sha256('key-a') }, { name: 'b', hash: sha256('key-b') }]
  it('matches by hash, whatever the presented length, without throwing', () => {
    assert.equal(matchKey('key-a', keys), 'a')
    assert.equal(matchKey('key-b', keys), 'b')
    for (const wrong of ['', 'k', 'key-c', 'key-a ', 'x'.repeat(10_000)]) assert.equal(matchKey(wrong, keys), null)
  })
  it('reads the Bearer scheme case-insensitively and nothing else', () => {
    assert.equal(bearerToken('Bearer abc'), 'abc')
    assert.equal(bearerToken('bearer abc'), 'abc')
    assert.equal(bearerToken('BEARER abc'), 'abc')
    for (const bad of [undefined, '', 'Bearer ', 'Bearer', 'Basic abc', 'abc', 'Bearer a b', 'Bearer a\tb', 'Token abc']) assert.equal(bearerToken(bad), null)
  })
  it('rate limiter: a fixed window per key name', () => {
    let t = 0
    const rl = new KeyRateLimiter(2, 1_000, () => t)
    assert.equal(rl.take('a'), 0)
    assert.equal(rl.take('a'), 0)
    assert.equal(rl.take('a'), 1_000)
    assert.equal(rl.take('b'), 0)
    t = 400
    assert.equal(rl.take('a'), 600)
    t = 1_000
    assert.equal(rl.take('a'), 0)
  })
})

describe('auth configuration', () => {
  it('refuses a real endpoint without keys', () => {
    assert.throws(() => loadConfig(realEndpoint), (err: Error) => err instanceof ConfigError && /API_KEYS/.test(err.message) && /AUTH_DISABLED=i-understand-the-risk/.test(err.message))
  })
  it('accepts only the exact opt-out value', () => {
    for (const casual of ['true', '1', 'yes', 'I-UNDERSTAND-THE-RISK']) {
      assert.throws(() => loadConfig({ ...realEndpoint, AUTH_DISABLED: casual }), ConfigError)
    }
    assert.equal(loadConfig({ ...realEndpoint, AUTH_DISABLED: 'i-understand-the-risk' }).auth.disabled, true)
  })
  it('parses named hashes and rejects raw keys, duplicates and contradictions', () => {
    const cfg = loadConfig({ ...realEndpoint, API_KEYS: ` one:${hashKey('1')} , two:${hashKey('2').toUpperCase()} ` })
    assert.deepEqual(cfg.auth.keys.map((k) => k.name), ['one', 'two'])
    assert.ok(cfg.auth.keys[1].hash.equals(sha256('2')))
    assert.throws(() => loadConfig({ ...realEndpoint, API_KEYS: 'one:my-raw-secret-key' }), (err: Error) => err instanceof ConfigError && !err.message.includes('my-raw-secret-key'))
    assert.throws(() => loadConfig({ ...realEndpoint, API_KEYS: `a:${hashKey('1')},a:${hashKey('2')}` }), ConfigError)
    assert.throws(() => loadConfig({ ...realEndpoint, API_KEYS: `a:${hashKey('1')},b:${hashKey('1')}` }), ConfigError)
    assert.throws(() => loadConfig({ ...realEndpoint, API_KEYS: `a:${hashKey('1')}`, AUTH_DISABLED: 'i-understand-the-risk' }), ConfigError)
  })
  it('rate limit defaults and opt-out', () => {
    assert.deepEqual(loadConfig({}).auth.rate, { limit: 600, windowMs: 60_000 })
    assert.equal(loadConfig({ API_KEY_RATE_LIMIT: '0' }).auth.rate, null)
  })
  it('embedded simulator without keys: open, with a warning', async () => {
    const lines: string[] = []
    const logStream = new Writable({ write (chunk, _e, cb) { lines.push(String(chunk)); cb() } })
    const app = await buildApp(loadConfig({ LOG_LEVEL: 'info' }), { logStream })
    try {
      const res = await app.inject({ method: 'POST', url: '/opportunities', payload: opportunity })
      assert.equal(res.statusCode, 200, res.body)
      assert.ok(parse(lines).some((l) => l.level === 40 && /no API_KEYS configured/.test(l.msg)))
    } finally {
      await app.close()
    }
  })
})

describe('caller authentication (S1, S2, S3)', () => {
  let gw: TestGateway
  before(async () => {
    gw = await startGateway({ env: { API_KEYS: `alice:${hashKey(TEST_API_KEYS.alice)},bob:${hashKey(TEST_API_KEYS.bob)}` } })
  })
  after(async () => { await gw.close() })

  it('S1: no key with a 1 MiB body: 401 before the body is read, nothing sent', async () => {
    const before = gw.sim.ledger.length
    const body = Buffer.alloc(1024 * 1024, 'a')
    const started = performance.now()
    const res = await rawPost(gw.url, '/opportunities', { 'content-type': 'application/json' }, body)
    const ms = performance.now() - started
    assert.equal(res.status, 401)
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="marketo-gateway"')
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    assert.equal(JSON.parse(res.text).code, 'UNAUTHORIZED')
    assert.equal(gw.sim.ledger.length, before)
    // The body was never parsed: no parse error, no validation, and no 413 even past the limit.
    assert.ok(!parse(gw.logs).some((l) => l.code === 'MALFORMED_JSON' || l.code === 'PAYLOAD_TOO_LARGE'))
    assert.ok(ms < 1_000, `${ms} ms`)
  })

  it('B3: a body past the limit without a key is still 401, not 413', async () => {
    const res = await rawPost(gw.url, '/opportunities', { 'content-type': 'application/json' }, Buffer.alloc(1024 * 1024 + 1, 'a'))
    assert.equal(res.status, 401)
  })

  const invalid: Array<[string, string]> = [
    ['wrong key', `Bearer ${TEST_API_KEY}`],
    ['key of another length', 'Bearer x'],
    ['a very long key', `Bearer ${'k'.repeat(400)}`],
    ['empty Bearer', 'Bearer '],
    ['no scheme', TEST_API_KEYS.alice],
    ['Basic scheme', `Basic ${Buffer.from('alice:' + TEST_API_KEYS.alice).toString('base64')}`],
    ['key plus junk', `Bearer ${TEST_API_KEYS.alice}x`],
    ['key with an inner space', `Bearer ${TEST_API_KEYS.alice} x`]
  ]
  for (const [name, header] of invalid) {
    it(`S2: ${name} → 401 problem+json with WWW-Authenticate`, async () => {
      const before = gw.sim.ledger.length
      const res = await request(`${gw.url}/opportunities`, { body: opportunity, headers: { authorization: header } })
      assert.equal(res.status, 401, res.text)
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="marketo-gateway"')
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
      assert.equal(res.body.code, 'UNAUTHORIZED')
      assert.equal(gw.sim.ledger.length, before)
    })
  }

  it('S2: lower-case scheme with a valid key is accepted; surrounding spaces are not part of a header value', async () => {
    const lower = await request(`${gw.url}/opportunities`, { body: opportunity, headers: { authorization: `bearer ${TEST_API_KEYS.alice}` } })
    assert.equal(lower.status, 200, lower.text)
    const spaced = await rawPost(gw.url, '/opportunities', { 'content-type': 'application/json', authorization: `Bearer ${TEST_API_KEYS.bob}   ` }, Buffer.from(JSON.stringify(opportunity)))
    assert.equal(spaced.status, 200, spaced.text)
  })

  it('S3: a key in the query string is never accepted nor logged', async () => {
    const before = gw.sim.ledger.length
    const res = await request(`${gw.url}/opportunities?api_key=${TEST_API_KEYS.alice}&access_token=${TEST_API_KEYS.alice}`, { body: opportunity, auth: false })
    assert.equal(res.status, 401)
    assert.equal(gw.sim.ledger.length, before)
    // With a valid header key, an unknown query parameter is a 400 (write routes take only ?dryRun).
    const ok = await request(`${gw.url}/opportunities?api_key=${TEST_API_KEYS.bob}`, { body: opportunity, auth: TEST_API_KEYS.alice })
    assert.equal(ok.status, 400)
    assert.equal(ok.body.code, 'VALIDATION_FAILED')
    assert.ok(!ok.text.includes(TEST_API_KEYS.bob))
    assert.equal(gw.sim.ledger.length, before)
    const all = gw.logs.join('')
    assert.ok(!all.includes(TEST_API_KEYS.alice) && !all.includes(TEST_API_KEYS.bob))
    assert.ok(all.includes('/opportunities?[REDACTED]'))
  })

  it('open paths need no key', async () => {
    for (const path of ['/healthz', '/readyz', '/openapi.json']) {
      const res = await request(gw.url + path, { auth: false })
      assert.equal(res.status, 200, path)
    }
    const unknown = await request(`${gw.url}/nothing`, { auth: false })
    assert.equal(unknown.status, 401)
  })

  it('audit: one line per write with the key name, never the key', async () => {
    const before = gw.logs.length
    const res = await request(`${gw.url}/opportunities`, {
      body: { operation: 'upsert', opportunities: [{ externalKey: { name: 'opportunityId', value: 'audit-1' }, name: 'A' }, { externalKey: { name: 'opportunityId', value: 'audit-2' }, name: 'B' }] },
      auth: TEST_API_KEYS.bob,
      headers: { 'x-request-id': 'audit-req-1' }
    })
    assert.equal(res.status, 200, res.text)
    const rejected = await request(`${gw.url}/opportunities`, { body: { opportunities: [] }, auth: TEST_API_KEYS.alice })
    assert.equal(rejected.status, 400)
    const audits = parse(gw.logs.slice(before)).filter((l) => l.msg === 'audit')
    assert.equal(audits.length, 2)
    const [ok, bad] = audits
    assert.equal(ok.level, 30)
    assert.equal(ok.channel, 'audit')
    assert.deepEqual({ ...ok.audit, durationMs: 0 }, {
      key: 'bob',
      method: 'POST',
      route: '/opportunities',
      operation: 'UPSERT',
      statusCode: 200,
      ids: res.body.results.map((r: { id: number }) => r.id),
      externalKeys: ['opportunityId=audit-1', 'opportunityId=audit-2'],
      summary: res.body.summary,
      marketoCalls: 1,
      requestId: 'audit-req-1',
      durationMs: 0
    })
    assert.equal(bad.audit.key, 'alice')
    assert.equal(bad.audit.statusCode, 400)
    assert.equal(bad.audit.marketoCalls, 0)
    assert.equal(bad.audit.operation, null)
    // An unauthenticated write is audited too, with no key name.
    const before2 = gw.logs.length
    await request(`${gw.url}/opportunities`, { body: opportunity, auth: false })
    const anon = parse(gw.logs.slice(before2)).filter((l) => l.msg === 'audit')
    assert.equal(anon.length, 1)
    assert.equal(anon[0].audit.key, null)
    assert.equal(anon[0].audit.statusCode, 401)
  })

  it('audit lines are written even at LOG_LEVEL=warn', async () => {
    const quiet = await startGateway({ env: { LOG_LEVEL: 'warn' } })
    try {
      await request(`${quiet.url}/opportunities`, { body: opportunity })
      const lines = parse(quiet.logs)
      assert.ok(lines.some((l) => l.msg === 'audit' && l.audit.key === 'test'))
      assert.ok(!lines.some((l) => l.msg === 'incoming request'))
    } finally {
      await quiet.close()
    }
  })
})

describe('per-key rate limit (S9)', () => {
  let gw: TestGateway
  before(async () => {
    gw = await startGateway({ env: { API_KEYS: `alice:${hashKey(TEST_API_KEYS.alice)},bob:${hashKey(TEST_API_KEYS.bob)}`, API_KEY_RATE_LIMIT: '3', API_KEY_RATE_WINDOW_MS: '60000' } })
  })
  after(async () => { await gw.close() })

  it('429 with Retry-After past the limit; other keys unaffected', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await request(`${gw.url}/opportunities`, { body: opportunity, auth: TEST_API_KEYS.alice })
      assert.equal(res.status, 200)
    }
    const calls = syncCalls(gw.sim)
    const limited = await request(`${gw.url}/opportunities`, { body: opportunity, auth: TEST_API_KEYS.alice })
    assert.equal(limited.status, 429)
    assert.equal(limited.body.code, 'RATE_LIMITED')
    const retryAfter = Number(limited.headers.get('retry-after'))
    assert.ok(retryAfter >= 1 && retryAfter <= 60, String(retryAfter))
    assert.equal(syncCalls(gw.sim), calls)
    const other = await request(`${gw.url}/opportunities`, { body: opportunity, auth: TEST_API_KEYS.bob })
    assert.equal(other.status, 200)
    // Health probes do not count and are not limited.
    assert.equal((await request(`${gw.url}/healthz`, { auth: TEST_API_KEYS.alice })).status, 200)
  })
})

describe('key rotation (S11)', () => {
  it('old key 401 after a restart without it; the new key works; logs carry names only', async () => {
    const both = await startGateway({ env: { API_KEYS: `old:${hashKey(TEST_API_KEYS.old)},next:${hashKey(TEST_API_KEYS.next)}` } })
    let logs: string[]
    try {
      assert.equal((await request(`${both.url}/opportunities`, { body: opportunity, auth: TEST_API_KEYS.old })).status, 200)
      assert.equal((await request(`${both.url}/opportunities`, { body: opportunity, auth: TEST_API_KEYS.next })).status, 200)
      logs = [...both.logs]
    } finally {
      await both.close()
    }
    const rotated = await startGateway({ env: { API_KEYS: `next:${hashKey(TEST_API_KEYS.next)}` } })
    try {
      const old = await request(`${rotated.url}/opportunities`, { body: opportunity, auth: TEST_API_KEYS.old })
      assert.equal(old.status, 401)
      assert.equal(rotated.sim.ledger.length, 0)
      assert.equal((await request(`${rotated.url}/opportunities`, { body: opportunity, auth: TEST_API_KEYS.next })).status, 200)
      logs.push(...rotated.logs)
    } finally {
      await rotated.close()
    }
    const audits = parse(logs).filter((l) => l.msg === 'audit').map((l) => l.audit.key)
    assert.deepEqual(audits, ['old', 'next', null, 'next'])
    const text = logs.join('')
    for (const k of [TEST_API_KEYS.old, TEST_API_KEYS.next, hashKey(TEST_API_KEYS.old), hashKey(TEST_API_KEYS.next)]) assert.ok(!text.includes(k))
  })

  it('AUTH_DISABLED gateways run open against a real endpoint', async () => {
    const open = await startGateway({ env: { AUTH_DISABLED: 'i-understand-the-risk' } })
    try {
      const res = await request(`${open.url}/opportunities`, { body: opportunity, auth: false })
      assert.equal(res.status, 200)
      assert.ok(parse(open.logs).some((l) => l.level === 40 && /AUTH_DISABLED/.test(l.msg)))
    } finally {
      await open.close()
    }
  })
})
