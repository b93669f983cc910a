import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { startGateway, request, type TestGateway, type JsonResponse } from '../helpers/gateway.js'
import type { Knob } from '../../src/simulator/index.js'

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
