import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { authHeader, envelope, faultBody, faultCodeOf, NOW, post, start, statusesOf, syncXml } from './helpers.js'

const describeCall = (now: Date = NOW): string => envelope('<ns1:paramsDescribeMObject><objectName>Program</objectName></ns1:paramsDescribeMObject>', authHeader({ now }))
const opportunities = (n: number): { type: string, attribs: Record<string, string> }[] => Array.from({ length: n }, (_, i) => ({ type: 'Opportunity', attribs: { Name: `O${i}` } }))

describe('limits', () => {
  it('20110 above 100 MObjects per call, nothing applied; configurable and removable', async (t) => {
    const sim = await start(t)
    const over = await post(sim, syncXml('INSERT', opportunities(101)))
    assert.deepEqual([over.status, over.body], [500, faultBody(20110, '20110 - Input error', 'Too many MObjects: 101, the maximum is 100 (20110)')])
    assert.equal(sim.store.opportunities.size, 3)
    assert.equal(statusesOf((await post(sim, syncXml('INSERT', opportunities(100)))).body).length, 100)
    sim.setLimits({ maxObjectsPerCall: 5 })
    assert.equal(faultCodeOf((await post(sim, syncXml('INSERT', opportunities(6)))).body), 20110)
    sim.setLimits({ maxObjectsPerCall: null })
    assert.equal(statusesOf((await post(sim, syncXml('INSERT', opportunities(150)))).body).length, 150)
  })

  it('20023 above 100 calls in a rolling 20 s; the window rolls with the clock', async (t) => {
    let now = NOW
    const sim = await start(t, { clock: () => now })
    for (let i = 0; i < 100; i++) assert.equal((await post(sim, describeCall())).status, 200)
    const limited = await post(sim, describeCall())
    assert.deepEqual([limited.status, limited.body], [500, faultBody(20023, '20023 - Rate limit exceeded', 'Rate limit exceeded: more than 100 calls in 20 seconds (20023)')])
    now = new Date(NOW.getTime() + 20_001)
    assert.equal((await post(sim, describeCall(now))).status, 200)
    sim.setLimits({ rateLimit: { calls: 2, windowMs: 1_000 } })
    sim.reset()
    sim.setLimits({ rateLimit: { calls: 2, windowMs: 1_000 } })
    assert.deepEqual([(await post(sim, describeCall(now))).status, (await post(sim, describeCall(now))).status, faultCodeOf((await post(sim, describeCall(now))).body)], [200, 200, 20023])
    sim.setLimits({ rateLimit: null })
    for (let i = 0; i < 5; i++) assert.equal((await post(sim, describeCall(now))).status, 200)
  })

  it('20024 above 10 concurrent calls', async (t) => {
    const sim = await start(t)
    sim.knobs.setDefault({ latencyMs: 150 })
    const replies = await Promise.all(Array.from({ length: 11 }, () => post(sim, describeCall())))
    const codes = replies.map((r) => r.status === 200 ? 200 : faultCodeOf(r.body))
    assert.deepEqual(codes.sort(), [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 20024])
    assert.equal(replies.find((r) => r.status === 500)?.body, faultBody(20024, '20024 - Concurrency limit exceeded', 'Concurrency limit exceeded: more than 10 concurrent calls (20024)'))
    assert.equal(sim.stats.peakConcurrent, 11)
    sim.setLimits({ maxConcurrent: null })
    const free = await Promise.all(Array.from({ length: 12 }, () => post(sim, describeCall())))
    assert.ok(free.every((r) => r.status === 200))
  })

  it('20015 above the daily quota, reset at midnight CST', async (t) => {
    let now = new Date('2024-05-01T05:00:00Z')
    const sim = await start(t, { clock: () => now, limits: { dailyQuota: 3 } })
    for (let i = 0; i < 3; i++) assert.equal((await post(sim, describeCall(now))).status, 200)
    const over = await post(sim, describeCall(now))
    assert.deepEqual([over.status, over.body], [500, faultBody(20015, '20015 - Request limit exceeded', 'Number of calls today exceeded the subscription quota of 3 (20015)')])
    now = new Date('2024-05-01T06:00:00Z')
    assert.equal((await post(sim, describeCall(now))).status, 200)
  })

  it('a faulted call does not count against the rate or the quota', async (t) => {
    const sim = await start(t, { limits: { rateLimit: { calls: 1, windowMs: 20_000 }, dailyQuota: 1 } })
    assert.equal(faultCodeOf((await post(sim, envelope('<ns1:paramsDescribeMObject/>', authHeader({ key: 'bad' })))).body), 20014)
    assert.equal((await post(sim, describeCall())).status, 200)
  })
})
