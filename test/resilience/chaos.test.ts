import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { startGateway, request, type TestGateway, type JsonResponse } from '../helpers/gateway.js'
import type { Knob } from '../../simulator/index.js'

const STATUSES = new Set(['created', 'updated', 'unchanged', 'skipped', 'failed', 'unknown', 'not_applied'])

const knobArb: fc.Arbitrary<Knob | null> = fc.oneof(
  fc.constant(null),
  fc.nat({ max: 29 }).map((i) => ({ failObjects: [i] })),
  fc.constantFrom<Knob>({ fault: 20011 }, { fault: 20016 }, { fault: 20023 }, { fault: 20014 }, { resetBeforeApply: true }, { resetAfterApply: true }, { latencyMs: 400 }, { truncated: true }, { html502: true })
)

const scenarioArb = fc.record({
  size: fc.integer({ min: 1, max: 30 }),
  knobs: fc.array(knobArb, { minLength: 1, maxLength: 4 }),
  retries: fc.array(fc.constantFrom('same-key', 'new-key-if-safe'), { maxLength: 2 })
})

// Property-based accounting under random faults and client retries (TEST-MATRIX N9), bounded.
describe('chaos: every object ends with exactly one honest status', () => {
  let gw: TestGateway
  before(async () => {
    gw = await startGateway({ env: { MARKETO_CALL_TIMEOUT_MS: '200', REQUEST_TIMEOUT_MS: '2000', BREAKER_FAILURE_THRESHOLD: '1000', COALESCE_WINDOW_MS: '0', MARKETO_RATE_LIMIT_WINDOW_MS: '0' } })
  })
  after(async () => { await gw.close() })

  let run = 0
  it('holds over random batches, faults and retries', { timeout: 120_000 }, async () => {
    await fc.assert(fc.asyncProperty(scenarioArb, async ({ size, knobs, retries }) => {
      run++
      gw.sim.knobs.clear()
      for (const k of knobs) if (k !== null) gw.sim.knobs.enqueue(k)
      const values = Array.from({ length: size }, (_, i) => `chaos-${run}-${i}`)
      const body = { operation: 'insert', opportunities: values.map((value) => ({ externalKey: { name: 'opportunityId', value }, name: value })) }
      let key = `chaos-key-${run}-0`
      let attempt = 0
      let res = await request(`${gw.url}/opportunities`, { body, headers: { 'idempotency-key': key } })
      check(res, size, values)
      for (const retry of retries) {
        const hasUnknown = (res.body.results as Array<{ status: string }>).some((r) => r.status === 'unknown')
        // A new key is safe only when no object is in doubt (the README's rule for callers).
        if (retry === 'new-key-if-safe' && !hasUnknown) key = `chaos-key-${run}-${++attempt}`
        const before = res
        res = await request(`${gw.url}/opportunities`, { body, headers: { 'idempotency-key': key } })
        check(res, size, values)
        if (retry === 'same-key' || hasUnknown) {
          assert.equal(res.headers.get('idempotent-replayed'), 'true')
          assert.equal(res.text, before.text)
        }
      }
      gw.sim.knobs.clear()
      // No object created twice, whatever happened.
      for (const value of values) assert.ok(countStored(value) <= 1, `${value} stored ${countStored(value)} times`)
    }), { numRuns: 40, seed: 20261130, endOnFailure: true })
  })

  function countStored (value: string): number {
    let n = 0
    for (const o of gw.sim.store.opportunities.values()) if (o.fields.opportunityId === value) n++
    return n
  }

  function check (res: JsonResponse, size: number, values: string[]): void {
    const results = res.body.results as Array<{ index: number, status: string, id: number | null, externalKey?: { value: string } }>
    assert.equal(results.length, size)
    const summary = res.body.summary as Record<string, number>
    assert.equal(summary.total, size)
    assert.equal(summary.created + summary.updated + summary.unchanged + summary.skipped + summary.failed + summary.deleted + summary.unknown + summary.notApplied, size)
    results.forEach((r, i) => {
      assert.equal(r.index, i)
      assert.ok(STATUSES.has(r.status), r.status)
      assert.equal(r.externalKey?.value, values[i])
      if (r.status === 'created' || r.status === 'updated') {
        assert.equal(gw.sim.store.opportunities.get(r.id as number)?.fields.opportunityId, values[i], 'reported written and is in Marketo')
      }
      if (r.status === 'not_applied' || r.status === 'failed') {
        assert.equal(countStored(values[i]), 0, `${values[i]} reported ${r.status} but is in Marketo`)
      }
    })
  }
})

// Issue #12: on REST one /mobjects/sync batch becomes several calls (opportunities, then their
// roles, then more opportunities; one call per program). Faults hit any of them; no object may be
// applied twice and every status must match what the simulator holds.
const restKnobArb: fc.Arbitrary<Knob | null> = fc.oneof(
  fc.constant(null),
  fc.constant<Knob>({ latencyMs: 1 }),
  fc.nat({ max: 5 }).map((i) => ({ failObjects: [i] })),
  fc.constantFrom<Knob>({ fault: 20023 }, { fault: 20024 }, { fault: 20011 }, { fault: 1003 }, { resetBeforeApply: true }, { resetAfterApply: true }, { truncated: true }, { html502: true })
)

const restScenarioArb = fc.record({
  mode: fc.constantFrom('insert-chain', 'update-costs'),
  groups: fc.array(fc.record({ roles: fc.subarray([6, 19]) }), { minLength: 1, maxLength: 4 }),
  knobs: fc.array(restKnobArb, { minLength: 1, maxLength: 5 })
})

describe('chaos on REST: multi-call batches with faults on any call', () => {
  let gw: TestGateway
  before(async () => {
    gw = await startGateway({ backend: 'rest', env: { MARKETO_CALL_TIMEOUT_MS: '300', REQUEST_TIMEOUT_MS: '3000', BREAKER_FAILURE_THRESHOLD: '1000', COALESCE_WINDOW_MS: '0', MARKETO_RATE_LIMIT_WINDOW_MS: '0' } })
    const warm = await request(`${gw.url}/opportunities`, { body: { opportunities: [{ externalKey: { name: 'opportunityId', value: 'chaos-rest-warm' }, name: 'warm' }] } })
    assert.equal(warm.status, 200, warm.text)
  })
  after(async () => { await gw.close() })

  let run = 0
  it('holds over random multi-call batches and faults', { timeout: 120_000 }, async () => {
    await fc.assert(fc.asyncProperty(restScenarioArb, async ({ mode, groups, knobs }) => {
      run++
      gw.sim.knobs.clear()
      for (const k of knobs) if (k !== null) gw.sim.knobs.enqueue(k)
      if (mode === 'insert-chain') await insertChain(groups.map((g) => g.roles))
      else await updateCosts(groups.length)
      gw.sim.knobs.clear()
    }), { numRuns: 40, seed: 20261202, endOnFailure: true })
  })

  async function insertChain (groups: number[][]): Promise<void> {
    const mObjects: unknown[] = []
    const expect: Array<{ kind: 'opportunity', value: string } | { kind: 'role', value: string, personId: number }> = []
    groups.forEach((persons, g) => {
      const value = `chaos-rest-${run}-${g}`
      mObjects.push({ type: 'Opportunity', externalKey: { name: 'opportunityId', value }, attributes: { Name: value } })
      expect.push({ kind: 'opportunity', value })
      for (const personId of persons) {
        mObjects.push({ type: 'OpportunityPersonRole', attributes: { PersonId: personId, Role: 'Buyer' }, associations: [{ type: 'Opportunity', externalKey: { name: 'opportunityId', value } }] })
        expect.push({ kind: 'role', value, personId })
      }
    })
    const res = await request(`${gw.url}/mobjects/sync`, { body: { operation: 'INSERT', mObjects } })
    const results = res.body.results as Array<{ index: number, status: string }>
    assert.equal(results.length, expect.length, res.text)
    results.forEach((r, i) => {
      assert.equal(r.index, i)
      assert.ok(STATUSES.has(r.status), r.status)
      const e = expect[i]
      const opps = [...gw.sim.store.opportunities.values()].filter((o) => o.fields.opportunityId === e.value)
      assert.ok(opps.length <= 1, `${e.value} stored ${opps.length} times`)
      const stored = e.kind === 'opportunity'
        ? opps.length
        : [...gw.sim.store.roles.values()].filter((role) => role.opportunityId === opps[0]?.id && role.personId === e.personId).length
      assert.ok(stored <= 1, `object ${i} stored ${stored} times`)
      if (r.status === 'created') assert.equal(stored, 1, `object ${i} reported created and is not in Marketo: ${res.text}`)
      if (r.status === 'not_applied' || r.status === 'failed' || r.status === 'skipped') assert.equal(stored, 0, `object ${i} reported ${r.status} but is in Marketo: ${res.text}`)
    })
  }

  async function updateCosts (programs: number): Promise<void> {
    const ids = [1970, 1001, 1002, 1003].slice(0, programs).filter((id) => gw.sim.store.programs.has(id))
    const note = (id: number) => `chaos-${run}-${id}`
    const mObjects = ids.flatMap((id) => [
      { type: 'Program', id, typeAttributes: [{ type: 'Cost', attributes: { Month: '2015-01', Amount: 10, Note: note(id) } }] },
      { type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'chaos-rest-warm' }, attributes: { Stage: note(id) } }
    ])
    const res = await request(`${gw.url}/mobjects/sync`, { body: { operation: 'UPDATE', mObjects } })
    const results = res.body.results as Array<{ index: number, status: string }>
    assert.equal(results.length, mObjects.length, res.text)
    ids.forEach((id, k) => {
      const r = results[2 * k]
      const lines = gw.sim.store.programs.get(id)?.costs.filter((c) => c.note === note(id)).length ?? 0
      assert.ok(lines <= 1, `program ${id}: cost line appended ${lines} times: ${res.text}`)
      if (r.status === 'updated') assert.equal(lines, 1, `program ${id} reported updated: ${res.text}`)
      if (r.status === 'not_applied' || r.status === 'failed' || r.status === 'skipped') assert.equal(lines, 0, `program ${id} reported ${r.status}: ${res.text}`)
    })
  }
})
