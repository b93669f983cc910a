import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig, ConfigError } from '../../src/config.js'
import { TokenCache } from '../../src/backends/rest/token.js'
import type { BoundedHttp } from '../../src/upstream/transport.js'
import { startGateway, request, hashKey, TEST_API_KEY, type TestGateway } from '../helpers/gateway.js'
import { startSimulator, DEMO_REST_CLIENT_ID, DEMO_REST_CLIENT_SECRET, type RunningSimulator } from '../../simulator/index.js'

// Issue #14, point 3: configuration as users copy it from Admin > Web Services, the token reused
// until it expires, and default limits that leave room for the subscription's other integrations.

const REST = { MARKETO_BACKEND: 'rest', MARKETO_CLIENT_ID: 'id', MARKETO_CLIENT_SECRET: 'secret', API_KEYS: `test:${hashKey(TEST_API_KEY)}` }

describe('REST endpoints as Admin > Web Services shows them', () => {
  it('the REST endpoint with /rest, with a trailing slash, or the bare host: the same base', () => {
    for (const endpoint of ['https://123-ABC-456.mktorest.com/rest', 'https://123-ABC-456.mktorest.com/rest/', 'https://123-ABC-456.mktorest.com', 'https://123-ABC-456.mktorest.com/']) {
      assert.equal(loadConfig({ ...REST, MARKETO_REST_ENDPOINT: endpoint }).marketo.rest.endpoint, 'https://123-abc-456.mktorest.com', endpoint)
    }
    assert.equal(loadConfig({ ...REST, MARKETO_REST_ENDPOINT: 'https://proxy.example.com/marketo/rest' }).marketo.rest.endpoint, 'https://proxy.example.com/marketo')
    for (const bad of ['https://123-ABC-456.mktorest.com/rest/v1', 'https://123-ABC-456.mktorest.com/identity', 'https://123-ABC-456.mktorest.com/rest?x=1', 'https://a.mktorest.com//rest']) {
      assert.throws(() => loadConfig({ ...REST, MARKETO_REST_ENDPOINT: bad }), ConfigError, bad)
    }
  })

  it('the identity endpoint: /identity on the same host by default, or MARKETO_IDENTITY_ENDPOINT', () => {
    assert.equal(loadConfig({ ...REST, MARKETO_REST_ENDPOINT: 'https://1-2-3.mktorest.com/rest' }).marketo.rest.identityEndpoint, undefined)
    for (const identity of ['https://1-2-3.mktorest.com/identity', 'https://1-2-3.mktorest.com/identity/', 'https://1-2-3.mktorest.com/identity/oauth/token', 'https://1-2-3.mktorest.com']) {
      assert.equal(loadConfig({ ...REST, MARKETO_REST_ENDPOINT: 'https://1-2-3.mktorest.com/rest', MARKETO_IDENTITY_ENDPOINT: identity }).marketo.rest.identityEndpoint, 'https://1-2-3.mktorest.com/identity', identity)
    }
  })

  it('default limits: Marketo\'s best-practice share on REST (50 calls per 20 s, 5 at once), the full budget on SOAP; settable', () => {
    const rest = loadConfig({ MARKETO_BACKEND: 'rest' }).marketo
    assert.deepEqual([rest.rate?.calls, rest.rate?.windowMs, rest.maxConcurrency], [50, 20_000, 5])
    const soap = loadConfig({}).marketo
    assert.deepEqual([soap.rate?.calls, soap.maxConcurrency], [100, 10])
    const set = loadConfig({ MARKETO_BACKEND: 'rest', MARKETO_RATE_LIMIT_CALLS: '80', MARKETO_MAX_CONCURRENCY: '8' }).marketo
    assert.deepEqual([set.rate?.calls, set.maxConcurrency], [80, 8])
    assert.throws(() => loadConfig({ MARKETO_MAX_CONCURRENCY: '0' }), ConfigError)
  })
})

describe('REST endpoints as copied, against the simulator', () => {
  async function gateway (sim: RunningSimulator, env: Record<string, string>): Promise<{ app: FastifyInstance, url: string }> {
    const app = await buildApp(loadConfig({ PORT: '0', LOG_LEVEL: 'silent', ...REST, MARKETO_CLIENT_ID: DEMO_REST_CLIENT_ID, MARKETO_CLIENT_SECRET: DEMO_REST_CLIENT_SECRET, ...env }))
    await app.listen({ host: '127.0.0.1', port: 0 })
    return { app, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` }
  }

  for (const [what, env] of [
    ['an endpoint with a trailing /rest', (s: string) => ({ MARKETO_REST_ENDPOINT: `${s}/rest` })],
    ['an endpoint with /rest/ and the identity endpoint as Admin shows it', (s: string) => ({ MARKETO_REST_ENDPOINT: `${s}/rest/`, MARKETO_IDENTITY_ENDPOINT: `${s}/identity` })]
  ] as const) {
    it(`${what} works`, async (t) => {
      const sim = await startSimulator({ host: '127.0.0.1', port: 0 })
      t.after(async () => { await sim.close() })
      const gw = await gateway(sim, env(sim.restEndpoint))
      t.after(async () => { await gw.app.close() })
      const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [{ externalKey: { name: 'opportunityId', value: 'copied-1' }, name: 'Copied' }] } })
      assert.equal(res.status, 200, res.text)
      assert.equal(res.body.results[0].status, 'created')
      assert.deepEqual(sim.ledger.map((e) => e.rest?.path), ['/rest/v1/opportunities.json'])
    })
  }

  it('a wrong identity endpoint answers 502 naming the setting, nothing sent', async (t) => {
    const sim = await startSimulator({ host: '127.0.0.1', port: 0 })
    t.after(async () => { await sim.close() })
    const gw = await gateway(sim, { MARKETO_REST_ENDPOINT: `${sim.restEndpoint}/rest`, MARKETO_IDENTITY_ENDPOINT: `${sim.restEndpoint}/identiti` })
    t.after(async () => { await gw.app.close() })
    const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [{ externalKey: { name: 'opportunityId', value: 'copied-2' }, name: 'Copied' }] } })
    assert.equal(res.status, 502, res.text)
    assert.match(res.body.detail, /MARKETO_IDENTITY_ENDPOINT/)
    assert.equal(res.body.results[0].status, 'not_applied')
    assert.deepEqual(sim.ledger, [])
  })
})

describe('REST access token', () => {
  it('is reused across calls until it expires, then refreshed once (one identity call per token lifetime)', async (t) => {
    let clock = Date.parse('2026-03-02T10:00:00Z')
    const gw: TestGateway = await startGateway({ backend: 'rest', now: () => new Date(clock), simulator: { clock: () => new Date(clock), restTokenTtlMs: 3_600_000 }, env: { COALESCE_WINDOW_MS: '0', MARKETO_RATE_LIMIT_WINDOW_MS: '0' } })
    t.after(async () => { await gw.close() })
    const tokens = (gw.app.marketo.api as unknown as { client: { tokens: TokenCache } }).client.tokens
    const write = async (value: string): Promise<void> => {
      const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [{ externalKey: { name: 'opportunityId', value }, name: value }] } })
      assert.equal(res.status, 200, res.text)
    }
    await write('tok-1')
    await write('tok-2')
    assert.equal(tokens.fetches, 1)
    // Near the end of its hour the token is still Marketo's one token: not asked for again.
    clock += 3_600_000 - 30_000
    await write('tok-3')
    assert.equal(tokens.fetches, 1)
    assert.equal(gw.sim.rest.tokensIssued, 1)
    // Expired: one refresh, shared by concurrent callers.
    clock += 31_000
    await Promise.all(['tok-4', 'tok-5', 'tok-6', 'tok-7'].map(write))
    assert.equal(tokens.fetches, 2)
    assert.equal(gw.sim.rest.tokensIssued, 2)
    await write('tok-8')
    assert.equal(tokens.fetches, 2)
    // No call was ever sent with an expired token.
    assert.deepEqual(gw.sim.ledger.filter((e) => e.rest?.errorCode !== undefined).map((e) => e.rest?.errorCode), [])
  })

  it('expires_in 0 is an expired token: asked for once more, never cached for an hour', async () => {
    let clock = 1_000_000
    const answers = [{ access_token: 'old:x', expires_in: 0 }, { access_token: 'new:x', expires_in: 3_600 }]
    let asked = 0
    const http = {
      request: async () => ({ status: 200, contentType: 'application/json', text: JSON.stringify(answers[Math.min(asked++, answers.length - 1)]) })
    } as unknown as BoundedHttp
    const cache = new TokenCache({ http, tokenUrl: 'https://x.invalid/identity/oauth/token', clientId: 'a', clientSecret: 'b', now: () => clock })
    assert.equal(await cache.get({}), 'new:x')
    assert.equal(cache.fetches, 2)
    clock += 3_599_000
    assert.equal(await cache.get({}), 'new:x')
    assert.equal(cache.fetches, 2)
    clock += 1_000
    await cache.get({})
    assert.equal(cache.fetches, 3)
  })

  it('one refresh in flight for concurrent callers', async () => {
    let asked = 0
    let release = (): void => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    const http = {
      request: async () => { asked++; await gate; return { status: 200, contentType: 'application/json', text: JSON.stringify({ access_token: 't:x', expires_in: 3_600 }) } }
    } as unknown as BoundedHttp
    const cache = new TokenCache({ http, tokenUrl: 'https://x.invalid/identity/oauth/token', clientId: 'a', clientSecret: 'b' })
    const all = Promise.all(Array.from({ length: 5 }, async () => await cache.get({})))
    release()
    assert.deepEqual(await all, ['t:x', 't:x', 't:x', 't:x', 't:x'])
    assert.equal(asked, 1)
  })
})
