// Self time per function from a V8 .cpuprofile (node --cpu-prof), top N.
import { readFileSync } from 'node:fs'

export function topSelfTime (file, n = 20) {
  const prof = JSON.parse(readFileSync(file, 'utf8'))
  const byId = new Map(prof.nodes.map((node) => [node.id, node]))
  const counts = new Map()
  const deltas = prof.timeDeltas
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = deltas[i + 1] ?? 0
    counts.set(prof.samples[i], (counts.get(prof.samples[i]) ?? 0) + dt)
  }
  const total = [...counts.values()].reduce((a, b) => a + b, 0)
  const byFn = new Map()
  for (const [id, us] of counts) {
    const cf = byId.get(id).callFrame
    const where = cf.url === '' ? '' : `${cf.url.replace(/^file:\/\//, '').replace(process.cwd() + '/', '')}:${cf.lineNumber + 1}`
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim()
    byFn.set(key, (byFn.get(key) ?? 0) + us)
  }
  return [...byFn.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([fn, us]) => ({ fn, ms: us / 1000, pct: (100 * us) / total }))
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  for (const r of topSelfTime(process.argv[2], Number(process.argv[3] ?? 25))) {
    console.log(`${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.fn}`)
  }
}
