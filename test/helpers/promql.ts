import { readFileSync } from 'node:fs'
import { parse } from 'yaml'

const root = new URL('../../', import.meta.url)
export const ALERTS_PATH = new URL('deploy/prometheus/alerts.yml', root)
export const DASHBOARD_PATH = new URL('deploy/grafana/marketo-gateway.json', root)

// PromQL words that are not metric names: aggregations and functions are followed by "(" and are
// dropped with their calls' names; these are the rest.
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'atan2', 'inf', 'nan'])

/** The metric names a PromQL expression reads (label matchers, ranges, grouping and functions removed). */
export function metricNames (expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
  const names = new Set<string>()
  for (const m of stripped.matchAll(/(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(\s*\()?/g)) {
    if (m[2] !== undefined || KEYWORDS.has(m[1].toLowerCase())) continue
    names.add(m[1])
  }
  return [...names]
}

export interface AlertRule { alert: string, expr: string }

export function alertRules (): AlertRule[] {
  const doc = parse(readFileSync(ALERTS_PATH, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> }
  return doc.groups.flatMap((g) => g.rules)
}

export interface DashboardTarget { panel: string, refId: string, expr: string }

/** Every query of the dashboard: panel targets and the template variables' label_values queries. */
export function dashboardQueries (): DashboardTarget[] {
  const dash = JSON.parse(readFileSync(DASHBOARD_PATH, 'utf8')) as { panels: Array<{ title: string, targets?: Array<{ refId: string, expr: string }> }>, templating: { list: Array<{ name: string, type: string, query?: unknown }> } }
  const out: DashboardTarget[] = []
  for (const p of dash.panels) for (const t of p.targets ?? []) out.push({ panel: p.title, refId: t.refId, expr: t.expr })
  for (const v of dash.templating.list) {
    if (v.type !== 'query') continue
    const q = typeof v.query === 'string' ? v.query : (v.query as { query: string }).query
    const m = /^label_values\((.*),\s*\w+\)$/.exec(q)
    if (m === null) throw new Error(`variable ${v.name}: not a label_values query: ${q}`)
    out.push({ panel: `variable ${v.name}`, refId: v.name, expr: m[1] })
  }
  return out
}

/** A dashboard query as plain PromQL: Grafana's variables replaced by values Prometheus accepts. */
export function asPromQL (expr: string): string {
  return expr.replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m').replace(/\$\{?(\w+)\}?/g, '.*')
}
