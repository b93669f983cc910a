import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { HTML_502 } from '../../simulator/knobs.js'
import { authHeader, faultBody, NOW, post, start, statusesOf, syncXml } from './helpers.js'
import { formatTimestamp, computeSignature } from '../../src/backends/soap/signing.js'
import { DEMO_ENCRYPTION_KEY, DEMO_USER_ID } from '../../simulator/index.js'

const insertTwo = syncXml('INSERT', [{ type: 'Opportunity', attribs: { Name: 'A' } }, { type: 'Opportunity', attribs: { Name: 'B' } }])
const TWO_CREATED = [{ id: 65, status: 'CREATED' }, { id: 66, status: 'CREATED' }]

describe('knobs', () => {
  it('applies queued knobs one per call in FIFO order, then the default, then nothing', async (t) => {
    const sim = await start(t)
    sim.knobs.enqueue({ fault: 20016 })
    sim.knobs.enqueue({ empty200: true })
    sim.knobs.setDefault({ html502: true })
    const first = await post(sim, insertTwo)
    assert.deepEqual([first.status, first.body], [500, faultBody(20016, '20016 - Request expired', 'Request has expired (20016)')])
    const second = await post(sim, insertTwo)
    assert.deepEqual([second.status, second.body], [200, ''])
    const third = await post(sim, insertTwo)
    assert.deepEqual([third.status, third.headers.get('content-type'), third.body], [502, 'text/html', HTML_502])
    sim.knobs.setDefault(undefined)
    assert.deepEqual(statusesOf((await post(sim, insertTwo)).body), TWO_CREATED)
    assert.deepEqual(sim.ledger.map((e) => [e.applied, e.httpStatus, e.faultCode]), [[false, 500, 20016], [false, 200, undefined], [false, 502, undefined], [true, 200, undefined]])
  })

  it('latencyMs delays the answer', async (t) => {
    const sim = await start(t)
    sim.knobs.enqueue({ latencyMs: 120 })
    const started = Date.now()
    assert.equal((await post(sim, insertTwo)).status, 200)
    assert.ok(Date.now() - started >= 115)
  })

  it('truncated answers half of the real body after applying the call', async (t) => {
    const sim = await start(t)
    sim.knobs.enqueue({ truncated: true })
    const cut = await post(sim, insertTwo)
    sim.reset()
    const full = await post(sim, insertTwo)
    assert.equal(cut.status, 200)
    assert.equal(cut.body, full.body.slice(0, Math.floor(full.body.length / 2)))
  })

  it('resets the connection before or after applying the call', async (t) => {
    const sim = await start(t)
    sim.knobs.enqueue({ resetBeforeApply: true })
    await assert.rejects(post(sim, insertTwo), TypeError)
    assert.equal(sim.store.opportunities.size, 3)
    sim.knobs.enqueue({ resetAfterApply: true })
    await assert.rejects(post(sim, insertTwo), TypeError)
    assert.equal(sim.store.opportunities.size, 5)
    assert.deepEqual(sim.ledger.map((e) => e.applied), [false, true])
    assert.deepEqual(sim.ledger[1].statuses, [{ id: 65, status: 'CREATED' }, { id: 66, status: 'CREATED' }])
  })

  it('dribbles the body slowly', async (t) => {
    const sim = await start(t)
    sim.knobs.enqueue({ dribble: { chunkBytes: 100, intervalMs: 20 } })
    const started = Date.now()
    const reply = await post(sim, insertTwo)
    const chunks = Math.ceil(Buffer.byteLength(reply.body) / 100)
    assert.deepEqual(statusesOf(reply.body), TWO_CREATED)
    assert.ok(Date.now() - started >= (chunks - 1) * 20, `${chunks} chunks`)
  })

  it('answers a wrong number of statuses, an unmatched id, or injected FAILED items', async (t) => {
    const sim = await start(t)
    sim.knobs.enqueue({ statusCount: 'fewer' })
    assert.deepEqual(statusesOf((await post(sim, insertTwo)).body), [{ id: 65, status: 'CREATED' }])
    sim.knobs.enqueue({ statusCount: 'more' })
    assert.deepEqual(statusesOf((await post(sim, insertTwo)).body), [{ id: 67, status: 'CREATED' }, { id: 68, status: 'CREATED' }, { id: 2_000_000_001, status: 'UNCHANGED' }])
    sim.knobs.enqueue({ unmatchedId: true })
    assert.deepEqual(statusesOf((await post(sim, insertTwo)).body), [{ id: 2_000_000_000, status: 'CREATED' }, { id: 70, status: 'CREATED' }])
    sim.knobs.enqueue({ failObjects: [0] })
    assert.deepEqual(statusesOf((await post(sim, insertTwo)).body), [{ id: 0, status: 'FAILED', error: 'Simulated failure (injected)' }, { id: 71, status: 'CREATED' }])
    assert.equal(sim.store.opportunities.size, 3 + 7)
  })

  it('answers hostile bodies, streaming the large ones', async (t) => {
    const sim = await start(t)
    sim.knobs.enqueue({ hostile: 'doctype-xxe' })
    assert.match((await post(sim, insertTwo)).body, /<!DOCTYPE SOAP-ENV:Envelope \[<!ENTITY xxe SYSTEM "file:\/\/\/etc\/passwd">\]>[\s\S]*&xxe;/)
    sim.knobs.enqueue({ hostile: 'entity-expansion' })
    const lol = (await post(sim, insertTwo)).body
    assert.match(lol, /<!ENTITY lol9 "(&lol8;){10}">/)
    assert.match(lol, /<error>&lol9;<\/error>/)
    sim.knobs.enqueue({ hostile: 'deep-nesting', depth: 10_000 })
    const deep = (await post(sim, insertTwo)).body
    assert.equal(deep.split('<a>').length - 1, 10_000)
    assert.equal(deep.split('</a>').length - 1, 10_000)
    sim.knobs.enqueue({ hostile: 'oversized', sizeBytes: 5_000_000 })
    const big = await post(sim, insertTwo)
    assert.equal(big.headers.get('content-length'), null)
    assert.equal(big.headers.get('transfer-encoding'), 'chunked')
    assert.equal(big.body.length, 5_000_000)
    assert.match(big.body, /<\/SOAP-ENV:Envelope>\n$/)
    assert.equal(sim.store.opportunities.size, 3)
  })
})

describe('inspection', () => {
  it('records every call in the ledger', async (t) => {
    const sim = await start(t)
    await post(sim, insertTwo)
    await post(sim, syncXml('UPDATE', [{ type: 'Program', id: 1970 }], authHeader({ key: 'nope' })))
    await post(sim, '<broken')
    const ts = formatTimestamp(NOW)
    assert.deepEqual(sim.ledger, [
      {
        seq: 1,
        operation: 'syncMObjects',
        receivedAt: NOW.toISOString(),
        mktowsUserId: DEMO_USER_ID,
        requestTimestamp: ts,
        requestSignature: computeSignature(DEMO_ENCRYPTION_KEY, ts, DEMO_USER_ID),
        objects: [{ type: 'Opportunity', attribs: [{ name: 'Name', value: 'A' }] }, { type: 'Opportunity', attribs: [{ name: 'Name', value: 'B' }] }],
        syncOperation: 'INSERT',
        statuses: [{ id: 65, status: 'CREATED' }, { id: 66, status: 'CREATED' }],
        httpStatus: 200,
        applied: true
      },
      {
        seq: 2,
        operation: 'syncMObjects',
        receivedAt: NOW.toISOString(),
        mktowsUserId: DEMO_USER_ID,
        requestTimestamp: ts,
        requestSignature: computeSignature('nope', ts, DEMO_USER_ID),
        objects: [{ type: 'Program', id: 1970 }],
        faultCode: 20014,
        httpStatus: 500,
        applied: false
      },
      { seq: 3, operation: '', receivedAt: NOW.toISOString(), faultCode: 20012, httpStatus: 500, applied: false }
    ])
  })

  it('keeps stats: calls, concurrency, connections, faults by code', async (t) => {
    const sim = await start(t)
    sim.knobs.setDefault({ latencyMs: 60 })
    await Promise.all([post(sim, insertTwo), post(sim, insertTwo), post(sim, '<x')])
    assert.deepEqual({ ...sim.stats, acceptedConnections: sim.stats.acceptedConnections >= 3 }, {
      totalCalls: 3, currentConcurrent: 0, peakConcurrent: 3, acceptedConnections: true, faultsByCode: { 20012: 1 }
    })
  })

  it('reset() restores the seed and clears ledger, knobs and counters', async (t) => {
    const sim = await start(t)
    await post(sim, insertTwo)
    sim.knobs.setDefault({ fault: 20011 })
    sim.reset()
    assert.deepEqual(sim.ledger, [])
    assert.deepEqual(sim.stats.totalCalls, 0)
    assert.deepEqual(statusesOf((await post(sim, insertTwo)).body), TWO_CREATED)
  })

  it('with inspection off, keeps no ledger and ignores knobs', async (t) => {
    const sim = await start(t, { inspection: false })
    sim.knobs.enqueue({ fault: 20011 })
    assert.deepEqual(statusesOf((await post(sim, insertTwo)).body), TWO_CREATED)
    assert.deepEqual(sim.ledger, [])
    assert.equal(sim.stats.totalCalls, 1)
  })
})
