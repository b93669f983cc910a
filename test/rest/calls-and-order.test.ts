import { describe, it, before, after, beforeEach } from 'node:test'
import assert from 'node:assert/strict'
import { startGateway, request, type TestGateway } from '../helpers/gateway.js'
import { planRestCalls, restRecordKey } from '../../src/backends/rest/mapping.js'
import { Coalescer } from '../../src/upstream/coalescer.js'
import { chunksAreIndependent } from '../../src/upstream/sync-service.js'
import type { BatchSender, CallOutcome } from '../../src/upstream/batch.js'
import type { CallSlot } from '../../src/upstream/state/admission.js'
import type { MObject, SyncOperation } from '../../src/domain/model.js'

// Issue #14, points 1 and 2: REST calls carry up to 300 records (and at most 1 MB), and two records
// with one key never share a call (Marketo would skip the second with 1036): from two callers they
// go in separate calls, in the order they came; from one request, in order too.

const opp = (value: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ externalKey: { name: 'opportunityId', value }, name: `Opp ${value}`, ...extra })
const mopp = (value: string, attribs: Array<{ name: string, value: string }> = []): MObject => ({ type: 'Opportunity', externalKey: { name: 'opportunityId', value }, attribs })

interface SyncBody { action: string, input: Array<Record<string, unknown>> }

function syncBodies (gw: TestGateway, from: number, path = '/rest/v1/opportunities.json'): SyncBody[] {
  return gw.sim.ledger.slice(from).flatMap((e) => e.rest !== undefined && e.rest.method === 'POST' && e.rest.path === path ? [e.rest.body as SyncBody] : [])
}

describe('REST calls of up to 300 records', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway({ backend: 'rest', env: { COALESCE_WINDOW_MS: '0', MARKETO_RATE_LIMIT_WINDOW_MS: '0' } }) })
  after(async () => { await gw.close() })

  it('300 opportunities are one REST call; 301 are two', async () => {
    let from = gw.sim.ledger.length
    const res = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: Array.from({ length: 300 }, (_, i) => opp(`c300-${i}`)) } })
    assert.equal(res.status, 200, res.text.slice(0, 300))
    assert.equal(res.body.summary.created, 300)
    assert.deepEqual(syncBodies(gw, from).map((b) => b.input.length), [300])
    from = gw.sim.ledger.length
    const more = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: Array.from({ length: 301 }, (_, i) => opp(`c301-${i}`)) } })
    assert.equal(more.status, 200, more.text.slice(0, 300))
    assert.deepEqual(syncBodies(gw, from).map((b) => b.input.length).sort((a, b) => b - a), [300, 1])
  })

  it('a dry run shows calls of 300', async () => {
    const from = gw.sim.ledger.length
    const res = await request(`${gw.url}/opportunities?dryRun=true`, { body: { opportunities: Array.from({ length: 700 }, (_, i) => opp(`dry300-${i}`)) } })
    assert.equal(res.status, 200, res.text.slice(0, 300))
    assert.deepEqual(res.body.calls.map((c: { objects: number }) => c.objects), [300, 300, 100])
    assert.equal(res.body.plan[299].call, 0)
    assert.equal(res.body.plan[300].call, 1)
    const body = JSON.parse(res.body.calls[0].envelope.split('\n\n')[1])
    assert.equal(body.input.length, 300)
    assert.equal(gw.sim.ledger.length, from, 'nothing sent')
  })

  it('records that would make a body over 1 MB start another call', () => {
    const big = 'x'.repeat(4_000)
    const objects = Array.from({ length: 300 }, (_, i) => mopp(`big-${i}`, [{ name: 'Description', value: big }]))
    const plan = planRestCalls('UPSERT', objects)
    assert.ok(plan.calls.length >= 2)
    assert.deepEqual(plan.calls.flatMap((c) => c.indexes), objects.map((_, i) => i))
    for (const c of plan.calls) assert.ok(Buffer.byteLength(c.body) <= 1024 * 1024, `${Buffer.byteLength(c.body)} bytes`)
  })
})

describe('REST: one key twice never shares a call (1036)', () => {
  let gw: TestGateway
  before(async () => {
    // A wide window, so the two callers below land in one coalescing batch unless kept apart.
    gw = await startGateway({ backend: 'rest', env: { COALESCE_WINDOW_MS: '100', MARKETO_RATE_LIMIT_WINDOW_MS: '0' } })
    const warm = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('order-warm')] } })
    assert.equal(warm.status, 200, warm.text)
  })
  after(async () => { await gw.close() })
  beforeEach(() => { gw.sim.knobs.clear() })

  it('two concurrent upserts of one external key from two callers: both succeed, in order', async () => {
    const from = gw.sim.ledger.length
    const [a, b] = await Promise.all([
      request(`${gw.url}/opportunities`, { body: { operation: 'upsert', opportunities: [opp('order-1', { stage: 'First' })] } }),
      request(`${gw.url}/opportunities`, { body: { operation: 'upsert', opportunities: [opp('order-1', { stage: 'Second' })] } })
    ])
    assert.equal(a.status, 200, a.text)
    assert.equal(b.status, 200, b.text)
    const calls = syncBodies(gw, from)
    assert.deepEqual(calls.map((c) => c.input.length), [1, 1], 'separate calls')
    const firstStage = calls[0].input[0].stage
    const [first, second] = firstStage === 'First' ? [a, b] : [b, a]
    assert.equal(first.body.results[0].status, 'created')
    assert.equal(second.body.results[0].status, 'updated')
    const stored = [...gw.sim.store.opportunities.values()].filter((o) => o.fields.opportunityId === 'order-1')
    assert.equal(stored.length, 1)
    assert.equal(stored[0].fields.Stage, calls[1].input[0].stage, 'the later call wins')
  })

  it('other keys of the same callers still share a call', async () => {
    const from = gw.sim.ledger.length
    const res = await Promise.all(['share-a', 'share-b', 'share-c'].map(async (k) => await request(`${gw.url}/opportunities`, { body: { opportunities: [opp(k)] } })))
    for (const r of res) assert.equal(r.status, 200, r.text)
    assert.deepEqual(syncBodies(gw, from).map((c) => c.input.length), [3])
  })

  it('one request naming one key twice: sent in order, in two calls', async () => {
    const from = gw.sim.ledger.length
    const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('twice', { stage: 'One' }), opp('other'), opp('twice', { stage: 'Two' })] } })
    assert.equal(res.status, 200, res.text)
    assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['created', 'created', 'updated'])
    assert.deepEqual(syncBodies(gw, from).map((c) => c.input.map((r) => r.externalOpportunityId)), [['twice', 'other'], ['twice']])
    assert.equal([...gw.sim.store.opportunities.values()].find((o) => o.fields.opportunityId === 'twice')?.fields.Stage, 'Two')
  })

  it('roles: the compound key (opportunity, person, role) is the key', async () => {
    const role = (r: string): Record<string, unknown> => ({ opportunity: { externalKey: { name: 'opportunityId', value: 'order-warm' } }, personId: 19, role: r })
    const from = gw.sim.ledger.length
    const [a, b, c] = await Promise.all([role('Buyer'), role('Buyer'), role('Champion')].map(async (r) => await request(`${gw.url}/opportunities/roles`, { body: { operation: 'upsert', roles: [r] } })))
    for (const r of [a, b, c]) assert.equal(r.status, 200, r.text)
    const calls = syncBodies(gw, from, '/rest/v1/opportunities/roles.json')
    assert.deepEqual(calls.map((x) => x.input.length).sort(), [1, 2])
  })
})

describe('Coalescer ordering (unit)', () => {
  const slot: CallSlot = { callDeadline: Number.MAX_SAFE_INTEGER, end () {}, abandon () {} }
  const log = { debug () {}, info () {}, warn () {} }

  it('sends carrying one key go one after the other, and no batch waits for a later one', { timeout: 10_000 }, async () => {
    const sent: string[] = []
    const sender = {
      acquireSlot: async () => slot,
      send: async (operation: SyncOperation, objects: MObject[]): Promise<CallOutcome> => {
        sent.push(`${operation}:${objects.map((o) => o.externalKey?.value).join(',')}`)
        await new Promise((resolve) => setImmediate(resolve))
        return { calls: 1, results: objects.map(() => ({ id: null, status: 'UPDATED' as const })) }
      }
    } as unknown as BatchSender
    const c = new Coalescer(sender, { windowMs: 1, maxObjects: 300, recordKey: restRecordKey })
    const deadline = Date.now() + 60_000
    // UPSERT x, then INSERT x+y (waits for it), then UPSERT y (waits for the INSERT, so it must not
    // join the first UPSERT batch, which the INSERT waits for); z joins the batch that is open.
    const outcomes = await Promise.all([
      c.send('UPSERT', [mopp('x')], deadline, log),
      c.send('INSERT', [mopp('x'), mopp('y')], deadline, log),
      c.send('UPSERT', [mopp('y')], deadline, log),
      c.send('UPSERT', [mopp('z')], deadline, log)
    ])
    assert.equal(outcomes.length, 4)
    assert.deepEqual(sent, ['UPSERT:x', 'INSERT:x,y', 'UPSERT:y,z'])
  })

  it('chunks of one request that name one role key are not run concurrently', () => {
    const role = (p: string): MObject => ({ type: 'OpportunityPersonRole', attribs: [{ name: 'PersonId', value: p }, { name: 'Role', value: 'R' }], associations: [{ mObjType: 'Opportunity', externalKey: { name: 'opportunityId', value: 'o' } }] })
    assert.equal(chunksAreIndependent([[role('1')], [role('2')]], restRecordKey), true)
    assert.equal(chunksAreIndependent([[role('1')], [role('1')]], restRecordKey), false)
  })
})
