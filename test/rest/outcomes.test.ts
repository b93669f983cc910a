import { describe, it, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, type TestGateway } from '../helpers/gateway.js'
import { restError } from '../../src/backends/rest/errors.js'

// Issue #14, point 1: honest outcomes on the REST backend, judged by error-codes.md. A response-level
// 500/502/614 may follow a write that happened (unknown, never split and re-sent); 713 is transient;
// 610 is the configuration's fault; record reasons map by meaning; Marketo's requestId is logged.

const opp = (value: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ externalKey: { name: 'opportunityId', value }, name: `Opp ${value}`, ...extra })

type Rest = NonNullable<TestGateway['sim']['ledger'][number]['rest']>

function syncBodies (gw: TestGateway, from: number): Array<{ action: string, input: Array<Record<string, unknown>> }> {
  return gw.sim.ledger.slice(from).flatMap((e) => e.rest !== undefined && e.rest.method === 'POST' && e.rest.path === '/rest/v1/opportunities.json' ? [e.rest.body as { action: string, input: Array<Record<string, unknown>> }] : [])
}

function restCalls (gw: TestGateway, from: number): Rest[] {
  return gw.sim.ledger.slice(from).flatMap((e) => e.rest === undefined ? [] : [e.rest])
}

function failedCallLines (gw: TestGateway): Array<{ msg: string, upstreamCode?: number, upstreamRequestId?: string }> {
  return gw.logs.map((l) => JSON.parse(l)).filter((l) => typeof l.msg === 'string' && l.msg.startsWith('Marketo call failed'))
}

describe('REST outcomes: the mapping of response-level codes', () => {
  it('500/502/614 unknown and transient, 713 transient and not sent, 610 a rejection naming the setting, 702 not found', () => {
    const table: Array<[number, string, boolean, string | undefined]> = [
      [500, 'UPSTREAM_INTERNAL', true, 'transient'], [502, 'UPSTREAM_INTERNAL', true, 'transient'], [614, 'UPSTREAM_INTERNAL', true, 'transient'],
      [713, 'UPSTREAM_INTERNAL', false, 'transient'], [610, 'UPSTREAM_REJECTED', false, undefined], [702, 'NOT_FOUND', false, undefined]
    ]
    for (const [code, expected, sent, retry] of table) {
      const e = restError(code, 'm', { requestId: 'e42b#14272d07d78' })
      assert.deepEqual([e.code, e.sent, e.retry, e.upstreamCode, e.upstreamRequestId], [expected, sent, retry, code, 'e42b#14272d07d78'], String(code))
      assert.match(e.message, /Marketo requestId e42b#14272d07d78/)
    }
    assert.match(restError(610, 'Requested resource not found').message, /MARKETO_REST_ENDPOINT/)
  })
})

describe('REST outcomes: response-level errors', () => {
  let gw: TestGateway
  before(async () => {
    // A wide coalescing window, so two concurrent callers share a call.
    gw = await startGateway({ backend: 'rest', env: { COALESCE_WINDOW_MS: '100', MARKETO_RATE_LIMIT_WINDOW_MS: '0' } })
    const warm = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('out-warm')] } })
    assert.equal(warm.status, 200, warm.text)
  })
  after(async () => { await gw.close() })
  beforeEach(() => { gw.sim.knobs.clear() })

  it('502 on an insert of two coalesced callers: both unknown, one call, nothing re-sent', async () => {
    const from = gw.sim.ledger.length
    gw.sim.knobs.enqueue({ fault: 502 })
    const [a, b] = await Promise.all([
      request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [opp('out-502-a')] } }),
      request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [opp('out-502-b')] } })
    ])
    for (const res of [a, b]) {
      assert.equal(res.status, 502, res.text)
      assert.equal(res.body.code, 'UPSTREAM_INTERNAL')
      assert.equal(res.body.upstreamCode, 502)
      assert.match(res.body.detail, /outcome is unknown/)
      assert.match(res.body.detail, /Marketo requestId \S+#\S+/)
      assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['unknown'])
      assert.equal(res.body.summary.unknown, 1)
    }
    const bodies = syncBodies(gw, from)
    assert.equal(bodies.length, 1, 'exactly one upstream call')
    assert.deepEqual(bodies[0].input.map((r) => r.externalOpportunityId).sort(), ['out-502-a', 'out-502-b'])
    const line = failedCallLines(gw).find((l) => l.upstreamCode === 502)
    assert.match(line?.upstreamRequestId ?? '', /#/, 'the failed call\'s log line carries Marketo\'s requestId')
  })

  for (const code of [500, 614]) {
    it(`${code} on an upsert: unknown, not retried`, async () => {
      const from = gw.sim.ledger.length
      gw.sim.knobs.enqueue({ fault: code })
      const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp(`out-${code}`)] } })
      assert.equal(res.status, 502, res.text)
      assert.equal(res.body.upstreamCode, code)
      assert.equal(res.body.results[0].status, 'unknown')
      assert.equal(syncBodies(gw, from).length, 1)
    })
  }

  it('502 on an update (idempotent): re-sent once, then updated', async () => {
    const from = gw.sim.ledger.length
    gw.sim.knobs.enqueue({ fault: 502 })
    const res = await request(`${gw.url}/opportunities`, { body: { operation: 'update', opportunities: [opp('out-warm', { stage: 'After 502' })] } })
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.results[0].status, 'updated')
    assert.deepEqual(syncBodies(gw, from).map((b) => b.action), ['updateOnly', 'updateOnly'])
  })

  it('713 then success: updated after one retry', async () => {
    const from = gw.sim.ledger.length
    gw.sim.knobs.enqueue({ fault: 713 })
    const res = await request(`${gw.url}/opportunities`, { body: { operation: 'upsert', opportunities: [opp('out-warm', { stage: 'After 713' })] } })
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.results[0].status, 'updated')
    assert.equal(syncBodies(gw, from).length, 2, 'the 713 call and one retry')
    const stored = [...gw.sim.store.opportunities.values()].find((o) => o.fields.opportunityId === 'out-warm')
    assert.equal(stored?.fields.Stage, 'After 713')
    const line = failedCallLines(gw).filter((l) => l.upstreamCode === 713).at(-1)
    assert.equal(line?.msg, 'Marketo call failed, retrying')
    assert.match(line?.upstreamRequestId ?? '', /#/)
  })

  it('610 (no such resource) is a configuration error, not a skipped program', async () => {
    const from = gw.sim.ledger.length
    gw.sim.knobs.enqueue({ fault: 610 })
    const res = await request(`${gw.url}/programs/1970/tags`, { body: { tags: [{ type: 'Region', value: 'EMEA' }] } })
    assert.equal(res.status, 502, res.text)
    assert.equal(res.body.code, 'UPSTREAM_REJECTED')
    assert.equal(res.body.upstreamCode, 610)
    assert.match(res.body.detail, /MARKETO_REST_ENDPOINT/)
    assert.equal(res.body.results[0].status, 'not_applied')
    assert.equal(restCalls(gw, from).length, 1)
  })

  it('702 on a read is not found (404), as on a write', async () => {
    gw.sim.knobs.enqueue({ fault: 702 })
    const res = await request(`${gw.url}/programs/1970`)
    assert.equal(res.status, 404, res.text)
    assert.equal(res.body.code, 'NOT_FOUND')
    assert.equal(res.body.upstreamCode, 702)
  })

  it('702 on a program update: that program is skipped, with the reason', async () => {
    const res = await request(`${gw.url}/programs/424242/tags`, { body: { tags: [{ type: 'Region', value: 'EMEA' }] } })
    assert.equal(res.status, 200, res.text)
    assert.equal(res.body.results[0].status, 'skipped')
    assert.equal(res.body.results[0].error.code, 'MARKETO_OBJECT_SKIPPED')
    assert.match(res.body.results[0].error.message, /\(702\)$/)
  })
})

describe('REST outcomes: record reasons', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ backend: 'rest', env: { COALESCE_WINDOW_MS: '0', MARKETO_RATE_LIMIT_WINDOW_MS: '0' } }) })
  after(async () => { await gw.close() })
  beforeEach(() => { gw.sim.knobs.clear() })

  for (const [reason, status] of [[1013, 'skipped'], [1017, 'skipped'], [1018, 'failed'], [1003, 'failed']] as const) {
    it(`reason ${reason} → ${status}, with Marketo's reason`, async () => {
      gw.sim.knobs.enqueue({ failObjects: [1], failReason: reason })
      const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp(`rr-${reason}-a`), opp(`rr-${reason}-b`)] } })
      assert.equal(res.status, status === 'failed' ? 207 : 200, res.text)
      assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['created', status])
      assert.equal(res.body.results[1].error.code, status === 'failed' ? 'MARKETO_OBJECT_FAILED' : 'MARKETO_OBJECT_SKIPPED')
      assert.match(res.body.results[1].error.message, new RegExp(`\\(${reason}\\)$`))
    })
  }

  it('an insert of an existing opportunity is skipped with 1005, an update of a missing one with 1004', async () => {
    await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('rr-dup')] } })
    const dup = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [opp('rr-dup')] } })
    assert.deepEqual(dup.body.results[0].error, { code: 'MARKETO_OBJECT_SKIPPED', message: 'Opportunity already exists (1005)' })
    const missing = await request(`${gw.url}/opportunities`, { body: { operation: 'update', opportunities: [opp('rr-nobody')] } })
    assert.deepEqual(missing.body.results[0].error, { code: 'MARKETO_OBJECT_SKIPPED', message: 'Opportunity not found (1004)' })
  })

  it('an unknown custom field that reaches Marketo (VALIDATE_CUSTOM_FIELDS=false) fails that object naming the field (1006)', async (t) => {
    // On by default on REST, the describe check would answer 400 before the call.
    const off = await startGateway({ backend: 'rest', env: { COALESCE_WINDOW_MS: '0', VALIDATE_CUSTOM_FIELDS: 'false' } })
    t.after(async () => { await off.close() })
    const res = await request(`${off.url}/opportunities`, { body: { opportunities: [opp('rr-1006', { customFields: { NoSuchField: 'x' } }), opp('rr-1006-ok')] } })
    assert.equal(res.status, 207, res.text)
    assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['failed', 'created'])
    assert.match(res.body.results[0].error.message, /NoSuchField.*\(1006\)$/)
  })
})

describe('REST outcomes: unknown fields answer 400 before the call with VALIDATE_CUSTOM_FIELDS=true (the REST default)', () => {
  it('names the field; no write reaches Marketo', async (t) => {
    const gw = await startGateway({ backend: 'rest', env: { VALIDATE_CUSTOM_FIELDS: 'true', COALESCE_WINDOW_MS: '0' } })
    t.after(async () => { await gw.close() })
    const from = gw.sim.ledger.length
    const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('vf-1', { customFields: { NoSuchField: 'x' } })] } })
    assert.equal(res.status, 400, res.text)
    assert.equal(res.body.errors[0].path, '/opportunities/0/customFields/NoSuchField')
    assert.deepEqual(syncBodies(gw, from), [])
  })
})
