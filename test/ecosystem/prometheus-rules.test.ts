import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parse, stringify } from 'yaml'
import { alertRules, asPromQL, dashboardQueries } from '../helpers/promql.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))
const rulesDir = join(root, 'deploy/prometheus')
const testFiles = readdirSync(rulesDir).filter((f) => f.endsWith('.test.yml')).sort()

const promtool = (process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'promtool')).find((p) => existsSync(p))
// As with chromium: skipped only on a developer machine without Debian's prometheus package;
// under CI (.ci/run installs it) a missing promtool is a failure.
const skip = promtool === undefined && process.env.CI === undefined
  ? 'promtool not found (apt-get install prometheus); set CI=1 to make this a failure'
  : false

/** promtool's exit code and output; never throws for a non-zero exit. */
async function promtoolRun (args: string[], cwd: string): Promise<{ code: number, output: string }> {
  assert.ok(promtool !== undefined, 'promtool is required under CI (.ci/run installs the prometheus package)')
  try {
    const { stdout, stderr } = await run(promtool, args, { cwd, timeout: 60_000 })
    return { code: 0, output: stdout + stderr }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, output: `${e.stdout ?? ''}${e.stderr ?? ''}${String(err)}` }
  }
}

describe('Prometheus alert rules (deploy/prometheus) under promtool', { skip }, () => {
  let tmp: string
  before(() => {
    mkdirSync(join(root, '.tmp'), { recursive: true })
    tmp = mkdtempSync(join(root, '.tmp', 'promtool-'))
  })
  after(() => { if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true }) })

  it('alerts.yml passes promtool check rules', async () => {
    const r = await promtoolRun(['check', 'rules', 'alerts.yml'], rulesDir)
    assert.equal(r.code, 0, r.output)
    assert.match(r.output, /SUCCESS: 8 rules found/)
  })

  it('has unit tests, which cover every alert with a case that fires and one that must not', () => {
    assert.ok(testFiles.length > 0, 'a deploy/prometheus/*.test.yml')
    const firing = new Set<string>()
    const silent = new Set<string>()
    for (const file of testFiles) {
      const doc = parse(readFileSync(join(rulesDir, file), 'utf8')) as { tests: Array<{ alert_rule_test?: Array<{ alertname: string, exp_alerts?: unknown[] }> }> }
      for (const t of doc.tests) {
        for (const c of t.alert_rule_test ?? []) ((c.exp_alerts ?? []).length > 0 ? firing : silent).add(c.alertname)
      }
    }
    for (const { alert } of alertRules()) {
      assert.ok(firing.has(alert), `${alert} has a case where it fires`)
      assert.ok(silent.has(alert), `${alert} has a case where it must not fire`)
    }
  })

  for (const file of testFiles) {
    it(`promtool test rules ${file}`, async () => {
      const r = await promtoolRun(['test', 'rules', file], rulesDir)
      assert.equal(r.code, 0, r.output)
      assert.match(r.output, /SUCCESS/)
    })
  }

  it('the unit tests notice a wrong rule: a raised quota threshold fails them', async () => {
    const rules = readFileSync(join(rulesDir, 'alerts.yml'), 'utf8')
    const raised = rules.replace('max by (job) (marketo_quota_daily_limit) > 0.8', 'max by (job) (marketo_quota_daily_limit) > 0.9')
    assert.notEqual(raised, rules, 'the threshold this test edits is in alerts.yml')
    writeFileSync(join(tmp, 'alerts.yml'), raised)
    for (const file of testFiles) copyFileSync(join(rulesDir, file), join(tmp, file))
    const r = await promtoolRun(['test', 'rules', ...testFiles], tmp)
    assert.notEqual(r.code, 0, r.output)
    assert.match(r.output, /MarketoDailyQuotaNearlyUsed/)
  })

  it('every query of the Grafana dashboard is valid PromQL (checked as recording rules)', async () => {
    const queries = dashboardQueries()
    const rules = queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: asPromQL(q.expr) }))
    writeFileSync(join(tmp, 'dashboard-queries.yml'), stringify({ groups: [{ name: 'dashboard', rules }] }))
    const r = await promtoolRun(['check', 'rules', 'dashboard-queries.yml'], tmp)
    assert.equal(r.code, 0, `${r.output}\n${queries.map((q, i) => `${i}: ${q.panel} ${q.refId}: ${q.expr}`).join('\n')}`)
    assert.match(r.output, new RegExp(`SUCCESS: ${queries.length} rules found`))
  })
})
