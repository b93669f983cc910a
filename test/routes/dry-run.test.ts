import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, assertRestRefusal, TEST_BACKEND, type TestGateway } from '../helpers/gateway.js'
import { DEMO_REST_CLIENT_ID, DEMO_REST_CLIENT_SECRET, DEMO_USER_ID, toGuid } from '../../simulator/index.js'

const rest = TEST_BACKEND === 'rest'

describe('?dryRun=true', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway() })
  after(async () => { await gw.close() })

  // `rest`: what the REST backend cannot express (cost ids, integer ids, a channel) answers 400 there, dry run
  // or not; the entry's REST equivalent is planned instead.
  const routes: Array<{ path: string, method?: string, body: unknown, objects: number, calls: number, rest?: { path: string, body: unknown, refused: RegExp } }> = [
    { path: '/programs/1970/costs', body: { costs: [{ month: '2013-06', amount: 2000, id: 153 }] }, objects: 1, calls: 1, rest: { path: '/programs/1970/costs', body: { costs: [{ month: '2013-06', amount: 2000 }] }, refused: /no cost ids/ } },
    { path: '/programs/1970/tags', body: { tags: [{ type: 'Channel', value: 'Webinar' }] }, objects: 1, calls: 1, rest: { path: '/programs/1970/tags', body: { tags: [{ type: 'Region', value: 'EMEA' }] }, refused: /channel only when the program is created/ } },
    { path: '/opportunities', body: { opportunities: Array.from({ length: 150 }, (_, i) => ({ externalKey: { name: 'opportunityId', value: `dry-${i}` }, name: 'Dry <run> & co' })) }, objects: 150, calls: rest ? 1 : 2 },
    { path: '/opportunities/64', method: 'PATCH', body: { stage: 'Dry' }, objects: 1, calls: 1, rest: { path: '/opportunities', body: { operation: 'update', opportunities: [{ marketoGUID: toGuid('opportunity', 64), stage: 'Dry' }] }, refused: /integer opportunity ids are SOAP-only/ } },
    {
      path: '/opportunities/roles',
      body: { roles: [{ opportunityId: 64, personId: 19 }] },
      objects: 1,
      calls: 1,
      rest: { path: '/opportunities/roles', body: { roles: [{ opportunity: { externalKey: { name: 'opportunityId', value: 'Opportunity_3' } }, personId: 19, role: 'Dry' }] }, refused: /integer opportunity ids are SOAP-only/ }
    },
    { path: '/mobjects/sync', body: { operation: 'INSERT', mObjects: [{ type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'dry-sync' }, attributes: { Name: 'x' } }] }, objects: 1, calls: 1 }
  ]

  for (const r of routes) {
    it(`${r.method ?? 'POST'} ${r.path}: the plan and envelopes, nothing sent`, async () => {
      const before = gw.sim.ledger.length
      let { path, method, body } = r
      if (rest && r.rest !== undefined) {
        assertRestRefusal(await request(`${gw.url}${path}?dryRun=true`, { method, body, headers: { 'idempotency-key': 'dry-run-key-0001' } }), gw.sim, before, r.rest.refused)
        path = r.rest.path
        method = undefined
        body = r.rest.body
      }
      const res = await request(`${gw.url}${path}?dryRun=true`, { method, body, headers: { 'idempotency-key': 'dry-run-key-0001' } })
      assert.equal(res.status, 200, res.text)
      assert.equal(res.body.dryRun, true)
      assert.equal(res.body.plan.length, r.objects)
      assert.deepEqual(res.body.plan.map((p: { index: number }) => p.index), Array.from({ length: r.objects }, (_, i) => i))
      assert.equal(res.body.calls.length, r.calls)
      for (const call of res.body.calls) {
        if (rest) {
          // The REST calls as they would be sent: method and path, content type, body; no token.
          assert.match(call.envelope, /^POST \/rest\/(v1\/opportunities(\/roles)?|asset\/v1\/program\/1970)\.json\nContent-Type: application\/(json|x-www-form-urlencoded)\n\n\S/)
          assert.doesNotMatch(call.envelope, /Authorization|Bearer|access_token/i)
          assert.doesNotMatch(call.envelope, new RegExp(`${DEMO_REST_CLIENT_ID}|${DEMO_REST_CLIENT_SECRET}`))
        } else {
          assert.match(call.envelope, /<ns1:paramsSyncMObjects|paramsSyncMObjects/)
          assert.match(call.envelope, /<requestSignature>\[REDACTED\]<\/requestSignature>/)
          assert.doesNotMatch(call.envelope, new RegExp(DEMO_USER_ID))
        }
      }
      // Nothing is sent but the describe that checks field names (VALIDATE_CUSTOM_FIELDS, on by default on REST).
      const sent = gw.sim.ledger.slice(before).filter((e) => e.operation !== 'describeMObject')
      assert.equal(sent.length, 0, JSON.stringify(sent.map((e) => [e.operation, e.syncOperation, e.objects?.length])))
    })
  }

  it('a dry run does not consume the Idempotency-Key, and invalid input is still 400', async () => {
    // The body of the costs dry run above (REST: without the cost id it cannot send).
    const costs = rest ? { costs: [{ month: '2013-06', amount: 2000 }] } : { costs: [{ month: '2013-06', amount: 2000, id: 153 }] }
    const real = await request(`${gw.url}/programs/1970/costs`, { body: costs, headers: { 'idempotency-key': 'dry-run-key-0001' } })
    assert.equal(real.status, 200)
    assert.equal(real.body.dryRun, undefined)
    assert.equal(real.headers.get('idempotent-replayed'), null)
    const bad = await request(`${gw.url}/opportunities?dryRun=true`, { body: { opportunities: [{ name: 1 }] } })
    assert.equal(bad.status, 400)
    const unknownQuery = await request(`${gw.url}/opportunities?dryRn=true`, { body: { opportunities: [{ name: 'x' }] } })
    assert.equal(unknownQuery.status, 400)
  })
})
