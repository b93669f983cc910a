// Shared helpers for bench/run.mjs: child processes, readiness, /proc sampling, metrics, load.
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import autocannon from 'autocannon'

export const HOST = '127.0.0.1'
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export function freePort () {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, HOST, () => { const { port } = s.address(); s.close(() => resolve(port)) })
  })
}

const children = new Set()
export function startChild (script, env = {}, nodeArgs = []) {
  const child = spawn(process.execPath, [...nodeArgs, script], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child.output = ''
  const keep = (d) => { child.output = (child.output + d).slice(-20_000) }
  child.stdout.on('data', keep)
  child.stderr.on('data', keep)
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => { children.delete(child); resolve({ code, signal }) }))
  children.add(child)
  return child
}

export async function stopChild (child, timeoutMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  await child.exited
  clearTimeout(t)
}

export function killAll () {
  for (const c of children) c.kill('SIGKILL')
}

export function httpGet (url, timeoutMs = 2_000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode, body }))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', reject)
  })
}

export function httpPostJson (url, value) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(value)
    const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode, body }))
    })
    req.on('error', reject)
    req.end(data)
  })
}

/** Polls `url` every `everyMs` until it answers 200; resolves with the ms since `since`. */
export async function waitReady (url, child, { timeoutMs = 15_000, everyMs = 10, since = performance.now() } = {}) {
  const deadline = since + timeoutMs
  while (performance.now() < deadline) {
    if (child !== undefined && child.exitCode !== null) throw new Error(`process exited before ready (${url}):\n${child.output}`)
    try {
      const r = await httpGet(url, 500)
      if (r.status === 200) return performance.now() - since
    } catch {}
    await sleep(everyMs)
  }
  throw new Error(`not ready after ${timeoutMs} ms: ${url}\n${child?.output ?? ''}`)
}

export function rssBytes (pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m === null ? NaN : Number(m[1]) * 1024
  } catch { return NaN }
}

export async function scrapeMetrics (url) {
  const { body } = await httpGet(url, 5_000)
  const out = {}
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
    if (m !== null) out[m[1] + (m[2] ?? '')] = Number(m[3])
  }
  return out
}

export function percentile (sorted, p) {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

export function median (values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return NaN
  const m = v.length >> 1
  return v.length % 2 === 1 ? v[m] : (v[m - 1] + v[m]) / 2
}

/**
 * Runs autocannon and records every 2xx latency itself (autocannon's histogram keeps whole
 * milliseconds; the 2 ms target needs fractions).
 */
export function load (opts) {
  return new Promise((resolve, reject) => {
    const latencies = []
    let non2xx = 0
    const inst = autocannon({ ...opts, timeout: opts.timeout ?? 30 }, (err, result) => {
      if (err) return reject(err)
      latencies.sort((a, b) => a - b)
      resolve({
        requests: result.requests.total,
        rps: latencies.length / result.duration,
        duration: result.duration,
        ok: latencies.length,
        non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        statusCodeStats: result.statusCodeStats,
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        max: latencies.length > 0 ? latencies[latencies.length - 1] : NaN
      })
    })
    inst.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime)
      else non2xx++
    })
  })
}

/** Body of `n` opportunities with fixed keys (upserts of unchanged data: the store does not grow). */
export function fixedBody (n) {
  return {
    operation: 'upsert',
    opportunities: Array.from({ length: n }, (_, i) => ({
      externalKey: { name: 'opportunityId', value: `bench-fixed-${i}` },
      name: `Bench opportunity ${i}`,
      amount: 1000 + i,
      stage: 'Prospecting'
    }))
  }
}

/** A throw-away redis-server (no persistence, noeviction) on a free port, for the replica phases. */
export async function startRedisServer () {
  const port = await freePort()
  const child = spawn(process.env.REDIS_SERVER ?? 'redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning'], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.output = ''
  child.stderr.on('data', (d) => { child.output = (child.output + d).slice(-20_000) })
  child.exited = new Promise((resolve) => child.once('exit', (code, signal) => { children.delete(child); resolve({ code, signal }) }))
  children.add(child)
  const { connect } = await import('node:net')
  const ping = () => new Promise((resolve) => {
    const s = connect({ host: HOST, port })
    s.setTimeout(300, () => { s.destroy(); resolve(false) })
    s.once('error', () => resolve(false))
    s.once('connect', () => s.write('PING\r\n'))
    s.once('data', (d) => { s.destroy(); resolve(String(d).startsWith('+PONG')) })
  })
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited: ${child.output}`)
    if (await ping()) return { child, port, url: `redis://${HOST}:${port}` }
    await sleep(50)
  }
  child.kill('SIGKILL')
  throw new Error('redis-server did not answer PING within 5 s')
}
