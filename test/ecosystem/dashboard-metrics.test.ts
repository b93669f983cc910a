import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { alertRules, dashboardQueries, metricNames, DASHBOARD_PATH } from '../helpers/promql.js'
import { startGateway, request, type TestGateway } from '../helpers/gateway.js'

const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count']

/** The series names a scrape declares (# TYPE, histograms with their suffixes) and those with a sample. */
function exported (text: string): { declared: Set<string>, sampled: Set<string> } {
  const declared = new Set<string>()
  const sampled = new Set<string>()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\w+)$/.exec(line)
    if (type !== null) {
      declared.add(type[1])
      if (type[2] === 'histogram' || type[2] === 'summary') for (const s of HISTOGRAM_SUFFIXES) declared.add(type[1] + s)
      continue
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line)
    if (sample !== null) sampled.add(sample[1])
  }
  return { declared, sampled }
}

describe('metricNames (the PromQL reader the checks below rely on)', () => {
  it('finds the metric names and nothing else', () => {
    assert.deepEqual(metricNames('sum by (job, le) (rate(a_bucket{route!~"/metrics|b_total"}[5m])) / ignoring(x) c:d > 0.5 and on(job) e offset 5m'), ['a_bucket', 'c:d', 'e'])
    assert.deepEqual(metricNames('min(f_seconds{job=~"$job"}) - time()'), ['f_seconds'])
    assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (le) (rate(g_bucket[$__rate_interval])))'), ['g_bucket'])
  })
})

describe('every metric the dashboard and the alert rules use is exported by a live gateway', () => {
  let gw: TestGateway
  let scrape: { declared: Set<string>, sampled: Set<string> }
  const used = new Map<string, string[]>()
  for (const r of alertRules()) for (const n of metricNames(r.expr)) used.set(n, [...(used.get(n) ?? []), `alert ${r.alert}`])
  for (const q of dashboardQueries()) for (const n of metricNames(q.expr)) used.set(n, [...(used.get(n) ?? []), `panel "${q.panel}" ${q.refId}`])

  before(async () => {
    gw = await startGateway({ env: { AUTH_DISABLED: 'i-understand-the-risk', MARKETO_MAX_ATTEMPTS: '1' } })
    // A write, a read and a fault: every series family then has samples.
    const write = await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ name: 'dash-1' }, { name: 'dash-2' }] } })
    assert.equal(write.status, 200, write.text)
    const read = await request(`${gw.url}/opportunities/64`)
    assert.equal(read.status, 200, read.text)
    gw.sim.knobs.enqueue({ fault: 20023 })
    assert.equal((await request(`${gw.url}/opportunities`, { body: { operation: 'insert', opportunities: [{ name: 'dash-3' }] } })).status, 429)
    const res = await fetch(`${gw.url}/metrics`)
    assert.equal(res.status, 200)
    scrape = exported(await res.text())
  })
  after(async () => { await gw.close() })

  it('finds queries to check (the dashboard and alerts.yml were read)', () => {
    assert.ok(used.size >= 15, [...used.keys()].join(', '))
    // The budget, as issue #17 asks: window left, concurrency, quota today and its reset, coalescing.
    for (const name of ['marketo_limiter_window_remaining_calls', 'marketo_limiter_in_flight', 'marketo_limiter_concurrency_limit', 'marketo_quota_calls_today',
      'marketo_quota_daily_limit', 'marketo_quota_reset_timestamp_seconds', 'marketo_quota_blocked', 'marketo_call_merged_requests_sum', 'marketo_call_merged_requests_count']) {
      assert.ok(dashboardQueries().some((q) => metricNames(q.expr).includes(name)), `the dashboard shows ${name}`)
    }
  })

  it('each name is declared by /metrics and has a sample there', () => {
    const missing = [...used].filter(([n]) => !scrape.declared.has(n)).map(([n, where]) => `${n} (${where.join('; ')})`)
    assert.deepEqual(missing, [], 'used by the dashboard or the alerts but not exported')
    const empty = [...used.keys()].filter((n) => !scrape.sampled.has(n))
    assert.deepEqual(empty, [], 'exported without a sample after a write, a read and a fault')
  })

  it('the dashboard is well formed: unique panel ids, every query on the datasource variable', () => {
    const DS_VARIABLE = '$' + '{datasource}'
    const dash = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8'))
    assert.equal(typeof dash.uid, 'string')
    const ids = dash.panels.map((p: { id: number }) => p.id)
    assert.equal(new Set(ids).size, ids.length)
    assert.ok(dash.templating.list.some((v: { name: string, type: string }) => v.name === 'datasource' && v.type === 'datasource'))
    for (const p of dash.panels.filter((x: { type: string }) => x.type !== 'row')) {
      assert.equal(p.datasource?.uid, DS_VARIABLE, p.title)
      assert.ok(p.targets.length > 0, p.title)
      for (const t of p.targets) assert.ok(typeof t.expr === 'string' && t.expr !== '' && t.datasource?.uid === DS_VARIABLE, `${p.title} ${t.refId}`)
    }
  })
})
