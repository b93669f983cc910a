import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startGateway, request, syncCalls, upstreamCalls, type TestGateway } from '../helpers/gateway.js'
import { toGuid } from '../../simulator/index.js'

// Issue #13: one admission, one quota state, one retry budget and one request deadline for every
// Marketo call, whatever the operation or the backend.

const opp = (value: string): Record<string, unknown> => ({ externalKey: { name: 'opportunityId', value }, name: value })

async function warm (gw: TestGateway): Promise<void> {
  const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp(`warm-${Math.random()}`)] } })
  assert.equal(res.status, 200, res.text)
}

describe('one seam for every Marketo call', () => {
  it('REST: a delete mixing a marketoGUID and an integer id answers 400 before any call', async () => {
    const gw = await startGateway({ backend: 'rest' })
    try {
      await warm(gw)
      const before = gw.sim.ledger.length
      const res = await request(`${gw.url}/mobjects/delete`, { body: { objects: [{ type: 'Opportunity', marketoGUID: toGuid('opportunity', 4) }, { type: 'Opportunity', id: 5 }] } })
      assert.equal(res.status, 400, res.text)
      assert.equal(res.body.code, 'VALIDATION_FAILED')
      assert.ok(res.body.errors.some((e: { path: string }) => /\/objects\/1\b/.test(e.path)), JSON.stringify(res.body.errors))
      assert.equal(gw.sim.ledger.length, before, 'no Marketo call')
      assert.ok(gw.sim.store.opportunities.has(4), 'nothing deleted')
    } finally {
      await gw.close()
    }
  })

  it('REST: after a 607 the next request is refused with 607, not a SOAP code, and nothing is sent', async () => {
    const gw = await startGateway({ backend: 'rest', env: { COALESCE_WINDOW_MS: '0' } })
    try {
      await warm(gw)
      gw.sim.knobs.enqueue({ fault: 607 })
      const first = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('quota-1')] } })
      assert.equal(first.status, 429, first.text)
      assert.equal(first.body.upstreamCode, 607)
      const before = gw.sim.ledger.length
      const next = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('quota-2')] } })
      assert.equal(next.status, 429)
      assert.equal(next.body.code, 'UPSTREAM_QUOTA_EXCEEDED')
      assert.equal(next.body.upstreamCode, 607)
      assert.match(next.body.detail, /607/)
      assert.equal(gw.sim.ledger.length, before)
    } finally {
      await gw.close()
    }
  })

  it('a read answered 20015 blocks the next write', async () => {
    const gw = await startGateway({ backend: 'soap' })
    try {
      gw.sim.knobs.enqueue({ fault: 20015 })
      const read = await request(`${gw.url}/opportunities/64`)
      assert.equal(read.status, 429, read.text)
      assert.equal(read.body.upstreamCode, 20015)
      const calls = syncCalls(gw.sim)
      const write = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('after-quota')] } })
      assert.equal(write.status, 429, write.text)
      assert.equal(write.body.code, 'UPSTREAM_QUOTA_EXCEEDED')
      assert.equal(syncCalls(gw.sim), calls, 'the write was not sent')
    } finally {
      await gw.close()
    }
  })

  it('reads and writes share one retry budget', async () => {
    const gw = await startGateway({ backend: 'soap' })
    try {
      assert.equal(gw.app.marketo.budget, (gw.app.marketo.calls as unknown as { opts: { budget: unknown } }).opts.budget)
      // The floor is 3 retries per 10 s for the whole process: three reads use it up, then a write gets none.
      gw.sim.knobs.setDefault({ fault: 20011 })
      for (let i = 0; i < 3; i++) await request(`${gw.url}/opportunities/64`)
      const before = syncCalls(gw.sim)
      const write = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('budget')] } })
      gw.sim.knobs.clear()
      assert.equal(write.status, 502)
      assert.equal(syncCalls(gw.sim) - before, 1, 'no retry left for the write')
    } finally {
      await gw.close()
    }
  })

  it('a request of several steps (custom-field check, then the write) answers within REQUEST_TIMEOUT_MS', async () => {
    const gw = await startGateway({ backend: 'soap', env: { VALIDATE_CUSTOM_FIELDS: 'true', DESCRIBE_CACHE_TTL_MS: '0', REQUEST_TIMEOUT_MS: '1200', MARKETO_CALL_TIMEOUT_MS: '1000', MARKETO_MIN_CALL_MS: '300', COALESCE_WINDOW_MS: '0' } })
    try {
      gw.sim.knobs.enqueue({ latencyMs: 700 })
      gw.sim.knobs.enqueue({ latencyMs: 900 })
      const started = Date.now()
      const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [{ ...opp('two-steps'), customFields: { ProductLine: 'Tea' } }] } })
      const elapsed = Date.now() - started
      assert.ok(elapsed < 1_200 + 300, `answered after ${elapsed} ms`)
      assert.equal(res.status, 504, res.text)
    } finally {
      await gw.close()
    }
  })

  it('a read of several steps (describe, then the list) starts no call after the one deadline leaves too little room', async () => {
    const gw = await startGateway({ backend: 'soap', env: { REQUEST_TIMEOUT_MS: '1000', MARKETO_CALL_TIMEOUT_MS: '700', DESCRIBE_CACHE_TTL_MS: '0' } })
    try {
      // describeMObject takes 600 ms; the list could start only 300 ms before the deadline, less
      // than a whole 700 ms call. A deadline recomputed per step would send it and answer at ~1.2 s.
      gw.sim.knobs.enqueue({ latencyMs: 600 })
      const lists = upstreamCalls(gw.sim, 'getMObjects')
      const started = Date.now()
      const res = await request(`${gw.url}/opportunities?stage=Negotiation`)
      const elapsed = Date.now() - started
      assert.ok(res.status === 429 || res.status === 503, res.text)
      assert.ok(Number(res.headers.get('retry-after')) >= 1, 'Retry-After')
      assert.equal(upstreamCalls(gw.sim, 'getMObjects'), lists, 'the list was never sent')
      assert.ok(elapsed < 1_000 + 300, `answered after ${elapsed} ms`)
    } finally {
      await gw.close()
    }
  })

  for (const backend of ['soap', 'rest'] as const) {
    it(`${backend}: reads, describes and deletes appear in the call metrics`, async () => {
      const gw = await startGateway({ backend })
      try {
        const calls = (text: string, operation: string): number => text.split('\n')
          .filter((l) => l.startsWith('marketo_calls_total{') && l.includes(`operation="${operation}"`))
          .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0)
        const before = (await request(`${gw.url}/metrics`)).text
        const guid = backend === 'rest' ? toGuid('opportunity', 4) : undefined
        const read = await request(backend === 'rest' ? `${gw.url}/opportunities?marketoGUID=${guid as string}` : `${gw.url}/opportunities/64`)
        assert.equal(read.status, 200, read.text)
        const describe = await request(`${gw.url}/mobjects/Opportunity/describe`)
        assert.equal(describe.status, 200, describe.text)
        const del = await request(`${gw.url}/mobjects/delete`, { body: { objects: [backend === 'rest' ? { type: 'Opportunity', marketoGUID: guid } : { type: 'Opportunity', id: 64 }] } })
        assert.ok(del.status === 200 || del.status === 207, del.text)
        const after = (await request(`${gw.url}/metrics`)).text
        for (const operation of ['getMObjects', 'describeMObject', 'deleteMObjects']) {
          assert.ok(calls(after, operation) > calls(before, operation), `${operation} counted:\n${after.split('\n').filter((l) => l.startsWith('marketo_calls_total')).join('\n')}`)
        }
        assert.equal(calls(after, 'getMObjects') - calls(before, 'getMObjects'), upstreamCalls(gw.sim, 'getMObjects'), 'one count per call the simulator saw')
      } finally {
        await gw.close()
      }
    })
  }

  it('REST: a /mobjects/sync batch of opportunities and roles counts as the REST calls it makes (concurrency 1: never two at once)', async () => {
    const gw = await startGateway({ backend: 'rest', env: { MARKETO_MAX_CONCURRENCY: '1', COALESCE_WINDOW_MS: '0' } })
    try {
      await warm(gw)
      // The simulator answers 615 to a second call while one is in flight.
      gw.sim.setLimits({ maxConcurrent: 1 })
      gw.sim.knobs.setDefault({ latencyMs: 60 })
      const before = gw.sim.ledger.length
      const responses = await Promise.all(['a', 'b', 'c'].map(async (k) => await request(`${gw.url}/mobjects/sync`, {
        body: {
          operation: 'INSERT',
          mObjects: [
            { type: 'Opportunity', externalKey: { name: 'opportunityId', value: `mixed-${k}` }, attributes: { Name: `mixed-${k}` } },
            { type: 'OpportunityPersonRole', attributes: { PersonId: 19, Role: 'Buyer' }, associations: [{ type: 'Opportunity', externalKey: { name: 'opportunityId', value: `mixed-${k}` } }] }
          ]
        }
      })))
      gw.sim.knobs.clear()
      for (const res of responses) {
        assert.equal(res.status, 200, res.text)
        assert.deepEqual(res.body.results.map((r: { status: string }) => r.status), ['created', 'created'])
      }
      const calls = gw.sim.ledger.slice(before).filter((e) => e.rest !== undefined && !e.rest.path.includes('/identity/'))
      // The Opportunity attributes are checked against the describe first (VALIDATE_CUSTOM_FIELDS,
      // on by default on REST): one call, shared by the three requests, then cached.
      const describes = calls.filter((e) => e.rest?.path === '/rest/v1/opportunities/describe.json')
      assert.equal(describes.length, 1, 'one describe for the three requests')
      assert.equal(calls.length - describes.length, 6, 'two REST write calls per request')
      assert.ok(calls.every((e) => e.rest?.errorCode === undefined), `no call refused: ${calls.map((e) => e.rest?.errorCode ?? 'ok').join(',')}`)
    } finally {
      await gw.close()
    }
  })

  it('REST: no WSDL is parsed (an unreadable MARKETO_WSDL does not matter); SOAP refuses to start with it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-wsdl-'))
    const wsdl = join(dir, 'broken.wsdl')
    writeFileSync(wsdl, 'not a WSDL')
    try {
      const gw = await startGateway({ backend: 'rest', env: { MARKETO_WSDL: wsdl } })
      try {
        const res = await request(`${gw.url}/opportunities`, { body: { opportunities: [opp('no-wsdl')] } })
        assert.equal(res.status, 200, res.text)
      } finally {
        await gw.close()
      }
      await assert.rejects(startGateway({ backend: 'soap', env: { MARKETO_WSDL: wsdl } }))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('no module outside backends/ imports a backend module (only the factory, backends/index.ts, is imported)', () => {
    const src = fileURLToPath(new URL('../../src/', import.meta.url))
    const offenders: string[] = []
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, name.name)
        if (name.isDirectory()) { if (path !== join(src, 'backends')) walk(path); continue }
        if (!name.name.endsWith('.ts')) continue
        for (const m of readFileSync(path, 'utf8').matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
          const target = resolve(dirname(path), m[1])
          if (target.startsWith(join(src, 'backends') + sep) && target !== join(src, 'backends', 'index.js')) offenders.push(`${relative(src, path)} → ${m[1]}`)
        }
      }
    }
    walk(src)
    assert.deepEqual(offenders, [])
    // The check can fail: the factory itself is found.
    assert.match(readFileSync(join(src, 'http', 'plugins', 'marketo.ts'), 'utf8'), /backends\/index\.js/)
  })
})
