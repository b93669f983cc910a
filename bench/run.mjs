// npm run bench: budget use, overhead, memory and soak, start-up — every server on 127.0.0.1, each
// in its own child process, every phase bounded in time. See BENCHMARKS.md.
//
//   node bench/run.mjs [--quick] [--only=startup,budget,replicas,redisgate,overhead,job,soak] [--runs=N] [--profile] [--json=FILE]
//   env: BENCH_QUICK=1, BENCH_RUNS, BENCH_DURATION_S, BENCH_WARMUP_S, BENCH_SOAK_S, BENCH_CONNECTIONS,
//        BENCH_RATE_CALLS, BENCH_RATE_WINDOW_MS, BENCH_BUDGET_WINDOWS, BENCH_BUDGET_CONNECTIONS
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import {
  HOST, fixedBody, freePort, httpGet, killAll, load, median, percentile, rssBytes, scrapeMetrics, sleep,
  startChild, startRedisServer, stopChild, waitReady
} from './lib.mjs'
import { topSelfTime } from './profile.mjs'

const flags = Object.fromEntries(process.argv.slice(2).map((a) => {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(a)
  if (m === null) throw new Error(`unknown argument ${a}`)
  return [m[1], m[2] ?? '1']
}))
const env = process.env
const QUICK = flags.quick === '1' || env.BENCH_QUICK === '1'
const num = (name, full, quick) => {
  const v = flags[name.toLowerCase().replace(/^bench_/, '').replace(/_/g, '-')] ?? env[name]
  return v !== undefined && v !== '' ? Number(v) : QUICK ? quick : full
}
const CFG = {
  runs: num('BENCH_RUNS', 3, 1),
  durationS: num('BENCH_DURATION_S', 10, 4),
  warmupS: num('BENCH_WARMUP_S', 3, 1),
  soakS: num('BENCH_SOAK_S', 300, 40),
  connections: num('BENCH_CONNECTIONS', 10, 10),
  // Full: Marketo's real limit (100 calls / 20 s). Quick: the same 5 calls/s in a 2 s window.
  rateCalls: num('BENCH_RATE_CALLS', 100, 10),
  rateWindowMs: num('BENCH_RATE_WINDOW_MS', 20_000, 2_000),
  budgetWindows: num('BENCH_BUDGET_WINDOWS', 2, 4),
  budgetConnections: num('BENCH_BUDGET_CONNECTIONS', 800, 800),
  // Soak: 'budget' (default) offers Marketo's whole budget at a steady rate, 400 one-object and
  // 1 hundred-object requests per second = 500 objects/s = 100 calls per 20 s of 100 objects;
  // 'saturate' runs closed loops with no rate, the gateway's CPU as the only limit.
  soakMode: process.env.BENCH_SOAK_MODE === 'saturate' ? 'saturate' : 'budget',
  soakRate1: num('BENCH_SOAK_RATE_1', 400, 400),
  soakRate100: num('BENCH_SOAK_RATE_100', 1, 1),
  startupSamples: 5,
  // Bulk job: Marketo's 100 calls a window, the window shortened from 20 s to 2 s.
  jobObjects: num('BENCH_JOB_OBJECTS', 50_000, 50_000),
  jobRateCalls: num('BENCH_JOB_RATE_CALLS', 100, 100),
  jobRateWindowMs: num('BENCH_JOB_RATE_WINDOW_MS', 2_000, 2_000)
}
const ONLY = new Set((flags.only ?? 'startup,budget,replicas,redisgate,overhead,job,soak').split(','))
const SIM = 'dist/simulator/server.js'
const GATEWAY = 'dist/src/server.js'
const CREDS = { MARKETO_USER_ID: 'demo17_1_809934544BFABAE58E5D27', MARKETO_ENCRYPTION_KEY: '27272727aa' }
const JSON_HEADERS = { 'content-type': 'application/json' }
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a)

process.on('SIGINT', () => { killAll(); process.exit(130) })
process.on('exit', killAll)

async function startSimulator (extraEnv) {
  const port = await freePort()
  const child = startChild(SIM, { SIMULATOR_HOST: HOST, SIMULATOR_PORT: String(port), ...extraEnv })
  await waitReady(`http://${HOST}:${port}/healthz`, child)
  return { child, port, base: `http://${HOST}:${port}`, endpoint: `http://${HOST}:${port}/soap/mktows/2_3` }
}

function gatewayEnv (sim, port, extra) {
  return {
    HOST,
    PORT: String(port),
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    MARKETO_SOAP_ENDPOINT: sim.endpoint,
    ...CREDS,
    AUTH_DISABLED: 'i-understand-the-risk',
    API_KEYS: '',
    API_KEY_RATE_LIMIT: '0',
    // Node/V8 options for the gateway process only (e.g. --max-semi-space-size=4).
    ...(process.env.BENCH_GATEWAY_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_GATEWAY_NODE_OPTIONS } : {}),
    ...extra
  }
}

async function startGateway (sim, extra = {}, nodeArgs = []) {
  const port = await freePort()
  const since = performance.now()
  const child = startChild(GATEWAY, gatewayEnv(sim, port, extra), nodeArgs)
  const readyMs = await waitReady(`http://${HOST}:${port}/readyz`, child, { since })
  return { child, port, base: `http://${HOST}:${port}`, readyMs }
}

async function startBare () {
  const port = await freePort()
  const child = startChild('bench/bare.mjs', { PORT: String(port) })
  await waitReady(`http://${HOST}:${port}/readyz`, child)
  return { child, port, base: `http://${HOST}:${port}` }
}

// ---------------------------------------------------------------- start-up
async function benchStartup () {
  const sim = await startSimulator({ SIMULATOR_LIMITS: 'off' })
  const samples = []
  try {
    for (let i = 0; i < CFG.startupSamples; i++) {
      const gw = await startGateway(sim)
      samples.push(gw.readyMs)
      await stopChild(gw.child)
    }
  } finally { await stopChild(sim.child) }
  log('start-up ms', samples.map((s) => s.toFixed(0)).join(' '))
  return { startupMs: median(samples), samples }
}

// ---------------------------------------------------------------- budget use
// replicas 2: two gateways on one redis-server (REDIS_URL), the connections split over both; the
// limits are the subscription's, shared by the two (issue #15).
async function benchBudget ({ replicas = 1 } = {}) {
  const { rateCalls: C, rateWindowMs: W, budgetWindows: K, budgetConnections: N } = CFG
  const sim = await startSimulator({
    SIMULATOR_ADMIN: '1',
    SIMULATOR_RATE_CALLS: String(C),
    SIMULATOR_RATE_WINDOW_MS: String(W),
    SIMULATOR_MAX_CONCURRENT: '10',
    SIMULATOR_DAILY_QUOTA: '0'
  })
  const redis = replicas > 1 ? await startRedisServer() : undefined
  const shared = redis === undefined ? {} : { REDIS_URL: redis.url, MARKETO_REPLICAS: String(replicas) }
  const gws = []
  for (let i = 0; i < replicas; i++) gws.push(await startGateway(sim, { MARKETO_RATE_LIMIT_CALLS: String(C), MARKETO_RATE_LIMIT_WINDOW_MS: String(W), ...shared }))
  const gw = gws[0]
  const runId = `${Date.now().toString(36)}`
  let seq = 0
  let createdInResponses = 0
  try {
    // One window of warm-up absorbs the rolling window's initial burst; then K whole windows are measured.
    const started = Date.now()
    const t0 = started + W
    const t1 = t0 + K * W
    const results = await Promise.all(gws.map((g) => load({
      url: g.base,
      connections: Math.ceil(N / replicas),
      duration: (t1 - started) / 1000 + 0.5,
      timeout: Math.ceil((W * 3 + 30_000) / 1000),
      requests: [{
        method: 'POST',
        path: '/opportunities',
        headers: JSON_HEADERS,
        setupRequest: (req) => {
          const n = seq++
          req.body = `{"operation":"upsert","opportunities":[{"externalKey":{"name":"opportunityId","value":"b-${runId}-${n}"},"name":"Budget ${n}","amount":${n % 100_000},"stage":"Prospecting"}]}`
          return req
        },
        onResponse: (status, body) => {
          if (status === 200) createdInResponses += Number(/"created":(\d+)/.exec(body)?.[1] ?? 0)
        }
      }]
    })))
    const result = combine(results)
    const stats = JSON.parse((await httpGet(`${sim.base}/__admin/stats`)).body)
    const ledger = JSON.parse((await httpGet(`${sim.base}/__admin/ledger`, 30_000)).body)
    const syncs = ledger.filter((e) => e.operation === 'syncMObjects')
    if (env.BENCH_DEBUG_LEDGER) writeFileSync(env.BENCH_DEBUG_LEDGER, syncs.map((e) => `${e.receivedAt} ${e.objects?.length ?? 0} ${e.faultCode ?? ''}`).join('\n') + '\n')
    let applied = 0
    let calls = 0
    for (const e of syncs) {
      const t = Date.parse(e.receivedAt)
      if (t >= t0 && t < t1 && e.applied && e.faultCode === undefined) { applied += e.objects?.length ?? 0; calls++ }
    }
    const totalApplied = syncs.reduce((a, e) => a + (e.applied && e.faultCode === undefined ? e.objects?.length ?? 0 : 0), 0)
    const theoretical = (C / (W / 1000)) * 100
    const appliedPerS = applied / ((t1 - t0) / 1000)
    // Longest acceptable wait: the window, plus the batches ahead of a request at the allowed rate, plus one call.
    const waitBoundMs = W + Math.ceil(N / 100) * (W / C) + 1_000
    const faults = stats.faultsByCode ?? {}
    const out = {
      appliedPerS,
      theoreticalPerS: theoretical,
      budgetUse: appliedPerS / theoretical,
      objectsPerCall: calls > 0 ? applied / calls : 0,
      createdPerSResponses: createdInResponses / result.duration,
      appliedTotal: totalApplied,
      faults20023: faults['20023'] ?? 0,
      faults20024: faults['20024'] ?? 0,
      otherFaults: Object.entries(faults).filter(([c]) => c !== '20023' && c !== '20024'),
      p50: result.p50,
      p99: result.p99,
      max: result.max,
      waitBoundMs,
      rejected: result.non2xx + result.errors + result.timeouts,
      requests: result.ok,
      statusCodeStats: result.statusCodeStats,
      gatewayRssMB: rssBytes(gw.child.pid) / 2 ** 20,
      replicas,
      // Times a replica took Redis for unavailable and used its local share (should be 0).
      redisFallbacks: gws.reduce((a, g) => a + (g.child.output.match(/Redis unavailable/g)?.length ?? 0), 0)
    }
    log(replicas > 1 ? `budget, ${replicas} replicas` : 'budget', JSON.stringify(out))
    return out
  } finally {
    for (const g of gws) await stopChild(g.child)
    await stopChild(sim.child)
    if (redis !== undefined) await stopChild(redis.child)
  }
}

// Several load() results as one: counts summed; p50/p99 from the per-replica values (the larger,
// a conservative stand-in for the merged histogram), max the largest.
function combine (results) {
  if (results.length === 1) return results[0]
  const sum = (k) => results.reduce((a, r) => a + r[k], 0)
  const statusCodeStats = {}
  for (const r of results) for (const [code, v] of Object.entries(r.statusCodeStats ?? {})) statusCodeStats[code] = { count: (statusCodeStats[code]?.count ?? 0) + v.count }
  return {
    requests: sum('requests'),
    rps: sum('rps'),
    duration: Math.max(...results.map((r) => r.duration)),
    ok: sum('ok'),
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    statusCodeStats,
    p50: Math.max(...results.map((r) => r.p50)),
    p99: Math.max(...results.map((r) => r.p99)),
    max: Math.max(...results.map((r) => r.max))
  }
}

// ---------------------------------------------------------------- the Redis gate's own cost
// (a) The gate alone, in this process: acquire + release of the in-process Limiter and of the
// Redis call gate (one Lua script each way, over loopback), limits too high to ever wait.
// (b) End to end: one connection of 1-object writes to a gateway without and with REDIS_URL
// (gate, quota count, caller limit), the difference of the medians being what Redis adds per call.
async function benchRedisGate () {
  const redis = await startRedisServer()
  const { Limiter } = await import('../dist/src/upstream/state/limiter.js')
  const { RedisCallGate } = await import('../dist/src/upstream/state/redis/call-gate.js')
  const { createRedisClient, waitReady: redisReady } = await import('../dist/src/upstream/state/redis/client.js')
  const client = createRedisClient({ url: redis.url })
  const out = {}
  try {
    await redisReady(client, 5_000)
    const n = QUICK ? 2_000 : 10_000
    const time = async (acquire) => {
      const t = []
      for (let i = 0; i < 200; i++) (await acquire())()
      for (let i = 0; i < n; i++) {
        const s = performance.now()
        const release = await acquire()
        t.push(performance.now() - s)
        release()
      }
      t.sort((a, b) => a - b)
      return { p50: percentile(t, 50), p99: percentile(t, 99) }
    }
    const limiter = new Limiter({ maxConcurrent: 10, rate: { calls: 1e9, windowMs: 20_000 }, maxQueue: 100 })
    const gate = new RedisCallGate({ redis: client, maxConcurrent: 10, rate: { calls: 1e9, windowMs: 20_000 }, leaseMs: 12_000, maxQueue: 100, failFast: true })
    out.inProcess = await time(() => limiter.acquire(Date.now() + 10_000))
    out.redis = await time(() => gate.acquire(Date.now() + 10_000))
    // The window log keeps 20 s of call ids: let releases land before the next phase.
    await sleep(200)
    gate.close()
    limiter.close()
    log('gate acquire ms', JSON.stringify(out))

    const sim = await startSimulator({ SIMULATOR_LIMITS: 'off' })
    try {
      const env = { COALESCE_WINDOW_MS: '0', MARKETO_RATE_LIMIT_WINDOW_MS: '0' }
      const local = await startGateway(sim, env)
      const shared = await startGateway(sim, { ...env, REDIS_URL: redis.url, REDIS_KEY_PREFIX: `bench${Date.now().toString(36)}` })
      try {
        out.e2eLocal = await httpLoad(local.base, 1, 1)
        out.e2eRedis = await httpLoad(shared.base, 1, 1)
      } finally {
        await stopChild(local.child)
        await stopChild(shared.child)
      }
    } finally { await stopChild(sim.child) }
    log('gateway 1 obj, 1 connection: in-process p50/p99', out.e2eLocal.p50.toFixed(2), out.e2eLocal.p99.toFixed(2), '| Redis', out.e2eRedis.p50.toFixed(2), out.e2eRedis.p99.toFixed(2))
    return out
  } finally {
    client.disconnect()
    await stopChild(redis.child)
  }
}

// ---------------------------------------------------------------- bulk job
// One 50,000-object NDJSON job (issue #16) against the simulator with Marketo's limits (calls per
// window as Marketo's, the window shortened so the phase takes seconds), while one interactive
// writer keeps sending single-object requests: job objects/s against the ceiling of its share
// (JOB_BUDGET_SHARE × calls per window × 100 objects per call), faults, and the interactive latency.
async function startJobRedis () {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'bench-redis-'))
  const child = spawn('redis-server', ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--dir', dir], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((resolve) => {
      const sock = connect({ host: HOST, port }, () => { sock.end(); resolve(true) })
      sock.once('error', () => resolve(false))
    })
    if (ok) break
    await sleep(50)
  }
  return { child, url: `redis://${HOST}:${port}`, stop: async () => { child.kill('SIGTERM'); await new Promise((resolve) => child.exitCode !== null ? resolve() : child.once('exit', resolve)); rmSync(dir, { recursive: true, force: true }) } }
}

async function benchJob () {
  const C = CFG.jobRateCalls
  const W = CFG.jobRateWindowMs
  const N = CFG.jobObjects
  const share = 0.5
  const redis = await startJobRedis()
  const sim = await startSimulator({ SIMULATOR_ADMIN: '1', SIMULATOR_RATE_CALLS: String(C), SIMULATOR_RATE_WINDOW_MS: String(W), SIMULATOR_MAX_CONCURRENT: '10', SIMULATOR_DAILY_QUOTA: '0' })
  const gw = await startGateway(sim, { REDIS_URL: redis.url, JOB_BUDGET_SHARE: String(share), MARKETO_RATE_LIMIT_CALLS: String(C), MARKETO_RATE_LIMIT_WINDOW_MS: String(W) })
  try {
    const lines = []
    for (let i = 0; i < N; i++) lines.push(`{"name":"Job ${i}","amount":${i % 100_000},"stage":"Prospecting"}`)
    const res = await fetch(`${gw.base}/jobs?kind=opportunities&operation=insert`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.join('\n') + '\n' })
    const accepted = await res.json()
    if (res.status !== 202) throw new Error(`POST /jobs answered ${res.status}: ${JSON.stringify(accepted)}`)
    // The interactive writer: one request at a time, for as long as the job runs.
    const latencies = []
    let interactiveErrors = 0
    const writing = { on: true }
    const writer = (async () => {
      for (let n = 0; writing.on && n < 100_000; n++) {
        const t = performance.now()
        const r = await fetch(`${gw.base}/opportunities`, { method: 'POST', headers: JSON_HEADERS, body: `{"operation":"insert","opportunities":[{"name":"Interactive ${n}"}]}` })
        await r.arrayBuffer()
        if (r.status !== 200) interactiveErrors++
        latencies.push(performance.now() - t)
        await sleep(100)
      }
    })()
    let job
    // Bounded: five minutes (the phase takes about 20 s at the default window).
    for (let i = 0; i < 1_200; i++) {
      job = JSON.parse((await httpGet(`${gw.base}/jobs/${accepted.id}`)).body)
      if (job.state !== 'queued' && job.state !== 'running') break
      if (i % 40 === 0) log('job progress', JSON.stringify({ state: job.state, processed: job.processed, calls: job.calls, inFlight: job.inFlightChunks, interactive: latencies.length }))
      await sleep(250)
    }
    if (job.state !== 'completed') throw new Error(`the bench job did not complete: ${JSON.stringify(job)}\n${gw.child.output.slice(-3_000)}`)
    writing.on = false
    await writer
    const stats = JSON.parse((await httpGet(`${sim.base}/__admin/stats`)).body)
    const ledger = JSON.parse((await httpGet(`${sim.base}/__admin/ledger`, 60_000)).body)
    const jobCalls = ledger.filter((e) => e.operation === 'syncMObjects' && (e.objects?.length ?? 0) > 1).map((e) => Date.parse(e.receivedAt))
    const first = Math.min(...jobCalls)
    const last = Math.max(...jobCalls)
    // A rolling window lets the first window's calls go at once; after that burst the rate is the
    // share's. Steady: the calls after the first window's worth, over the time they took.
    const perWindow = Math.floor(share * C)
    const steadyRate = (jobCalls.length - perWindow) / ((last - first) / W) / perWindow
    jobCalls.sort((a, b) => a - b)
    let maxInWindow = 0
    for (let i = 0, j = 0; i < jobCalls.length; i++) {
      while (jobCalls[i] - jobCalls[j] >= W) j++
      maxInWindow = Math.max(maxInWindow, i - j + 1)
    }
    const ceilingPerS = share * (C / (W / 1000)) * 100
    const seconds = (Date.parse(job.finishedAt) - Date.parse(job.startedAt)) / 1000
    const sorted = [...latencies].sort((a, b) => a - b)
    const q = (p) => sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
    const out = {
      state: job.state,
      objects: N,
      created: job.counts.created,
      seconds,
      objectsPerS: N / seconds,
      ceilingPerS,
      fractionOfCeiling: N / seconds / ceilingPerS,
      steadyFractionOfCeiling: steadyRate,
      maxJobCallsInWindow: maxInWindow,
      shareCallsPerWindow: perWindow,
      jobCalls: job.calls,
      faults: stats.faultsByCode ?? {},
      interactiveRequests: latencies.length,
      interactiveErrors,
      interactiveP50: q(0.5),
      interactiveP99: q(0.99),
      gatewayRssMB: rssBytes(gw.child.pid) / 2 ** 20
    }
    log('job', JSON.stringify(out))
    return out
  } finally {
    await stopChild(gw.child)
    await stopChild(sim.child)
    await redis.stop()
  }
}

// ---------------------------------------------------------------- overhead
function runDirect (sim, objects, connections = CFG.connections) {
  const child = startChild('bench/direct.mjs', {
    ENDPOINT: sim.endpoint,
    OBJECTS: String(objects),
    CONCURRENCY: String(connections),
    DURATION_MS: String(CFG.durationS * 1000),
    WARMUP_MS: String(CFG.warmupS * 1000)
  })
  return child.exited.then(({ code }) => {
    if (code !== 0) throw new Error(`direct driver failed:\n${child.output}`)
    return JSON.parse(child.output.trim().split('\n').at(-1))
  })
}

async function httpLoad (base, objects, connections = CFG.connections) {
  const body = JSON.stringify(fixedBody(objects))
  const opts = { url: `${base}/opportunities`, method: 'POST', headers: JSON_HEADERS, body, connections }
  await load({ ...opts, duration: CFG.warmupS })
  const r = await load({ ...opts, duration: CFG.durationS })
  if (r.non2xx + r.errors + r.timeouts > 0) log('WARNING: failed requests', base, JSON.stringify(r.statusCodeStats), r.errors, r.timeouts)
  return r
}

async function benchOverhead (profileDir) {
  const sim = await startSimulator({ SIMULATOR_LIMITS: 'off' })
  const out = {}
  try {
    const nodeArgs = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`]
    const gw = await startGateway(sim, { COALESCE_WINDOW_MS: '0', MARKETO_RATE_LIMIT_WINDOW_MS: '0' }, nodeArgs)
    const bare = profileDir === undefined ? await startBare() : undefined
    try {
      for (const n of [1, 100]) {
        const g = await httpLoad(gw.base, n)
        if (profileDir !== undefined) { out[n] = { gateway: g }; continue }
        const d = await runDirect(sim, n)
        const b = await httpLoad(bare.base, n)
        out[n] = {
          gateway: g,
          direct: d,
          bare: b,
          rpsVsDirect: g.rps / d.rps,
          p50VsDirect: g.p50 / d.p50,
          p99VsDirect: g.p99 / d.p99,
          p50MinusDirectMs: g.p50 - d.p50,
          rpsVsBare: g.rps / b.rps,
          p50VsBare: g.p50 / b.p50,
          p99VsBare: g.p99 / b.p99
        }
        const f = (r) => `${r.rps.toFixed(0)} req/s p50 ${r.p50.toFixed(2)} p99 ${r.p99.toFixed(2)}`
        log(`overhead ${n} obj: gateway ${f(g)} | direct ${f(d)} | bare ${f(b)}`)
      }
      if (profileDir === undefined) {
        // One request at a time: the time the gateway adds to one call, without queueing behind
        // the other connections on 2 shared cores.
        const g = await httpLoad(gw.base, 1, 1)
        const d = await runDirect(sim, 1, 1)
        out.serial = { gateway: g, direct: d, p50MinusDirectMs: g.p50 - d.p50, p50VsDirect: g.p50 / d.p50 }
        log(`overhead 1 obj, 1 connection: gateway p50 ${g.p50.toFixed(2)} | direct p50 ${d.p50.toFixed(2)}`)
      }
    } finally {
      await stopChild(gw.child)
      if (bare !== undefined) await stopChild(bare.child)
    }
  } finally { await stopChild(sim.child) }
  return out
}

// ---------------------------------------------------------------- memory and soak
async function benchSoak () {
  const sim = await startSimulator({ SIMULATOR_LIMITS: 'off' })
  const gw = await startGateway(sim, { MARKETO_RATE_LIMIT_WINDOW_MS: '0' })
  const mark1 = Math.min(60, CFG.soakS / 5) * 1000
  const end = CFG.soakS * 1000
  const samples = []
  const soakState = { stop: false }
  const started = performance.now()
  const sampler = (async () => {
    while (!soakState.stop) {
      const t = performance.now() - started
      try {
        const m = await scrapeMetrics(`${gw.base}/metrics`)
        samples.push({ t, rss: rssBytes(gw.child.pid), heap: m.nodejs_heap_size_used_bytes, lagP99: m.nodejs_eventloop_lag_p99_seconds })
      } catch (err) { log('metrics scrape failed', err.message) }
      await sleep(2_000)
    }
  })()
  try {
    // Steady mixed load: 1-object writes (coalesced, default 2 ms window) and 100-object writes,
    // at Marketo's budget rate (default) or in closed loops (BENCH_SOAK_MODE=saturate).
    const rate = (r) => (CFG.soakMode === 'budget' ? { overallRate: r } : {})
    const small = { url: `${gw.base}/opportunities`, method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(fixedBody(1)), connections: 16, duration: CFG.soakS, ...rate(CFG.soakRate1) }
    const large = { ...small, body: JSON.stringify(fixedBody(100)), connections: 4, ...rate(CFG.soakRate100) }
    const [s, l] = await Promise.all([load(small), load(large)])
    soakState.stop = true
    await sampler
    const near = (mark) => samples.filter((x) => x.t <= mark && x.t > mark - Math.max(10_000, mark / 6))
    const heap1 = median(near(mark1).map((x) => x.heap))
    const heap5 = median(near(end).map((x) => x.heap))
    const steady = samples.filter((x) => x.t > mark1)
    const out = {
      rssMB: median(steady.map((x) => x.rss)) / 2 ** 20,
      rssMaxMB: Math.max(...steady.map((x) => x.rss)) / 2 ** 20,
      heap1MB: heap1 / 2 ** 20,
      heap5MB: heap5 / 2 ** 20,
      heapGrowth: heap5 / heap1 - 1,
      lagP99Ms: Math.max(...steady.map((x) => x.lagP99)) * 1000,
      lagP99MedianMs: median(steady.map((x) => x.lagP99)) * 1000,
      rps1: s.rps,
      rps100: l.rps,
      failed: s.non2xx + s.errors + s.timeouts + l.non2xx + l.errors + l.timeouts,
      objectsPerS: s.rps + 100 * l.rps,
      mode: CFG.soakMode,
      markS: [mark1 / 1000, end / 1000]
    }
    log('soak', JSON.stringify(out))
    return out
  } finally {
    soakState.stop = true
    await stopChild(gw.child)
    await stopChild(sim.child)
  }
}

// ---------------------------------------------------------------- report
const fmt = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a')
const pct = (v) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : 'n/a')
const pick = (runs, f) => median(runs.map((r) => { try { return f(r) } catch { return NaN } }))
const mark = (ok) => (ok === undefined ? '' : ok ? 'ok' : 'MISS')

function report (runs, soak) {
  const rows = []
  const row = (section, metric, value, target = '', ok) => rows.push([section, metric, value, target, mark(ok)])
  if (runs.some((r) => r.budget)) {
    const b = (f) => pick(runs.filter((r) => r.budget), (r) => f(r.budget))
    row('budget', `applied obj/s (limit ${CFG.rateCalls}/${CFG.rateWindowMs} ms)`, fmt(b((x) => x.appliedPerS), 0), `max ${fmt(b((x) => x.theoreticalPerS), 0)}`)
    row('budget', 'budget use', pct(b((x) => x.budgetUse)), '>= 95%', b((x) => x.budgetUse) >= 0.95)
    row('budget', 'objects per call', fmt(b((x) => x.objectsPerCall), 1), '~100')
    row('budget', 'created/s from responses (whole run)', fmt(b((x) => x.createdPerSResponses), 0))
    row('budget', 'faults 20023 / 20024', `${b((x) => x.faults20023)} / ${b((x) => x.faults20024)}`, '0 / 0', b((x) => x.faults20023 + x.faults20024) === 0)
    row('budget', 'p50 / p99 / max latency ms', `${fmt(b((x) => x.p50), 0)} / ${fmt(b((x) => x.p99), 0)} / ${fmt(b((x) => x.max), 0)}`, `max <= ${fmt(b((x) => x.waitBoundMs), 0)}`, b((x) => x.max) <= b((x) => x.waitBoundMs))
    row('budget', 'rejected requests', fmt(b((x) => x.rejected), 0), '0', b((x) => x.rejected) === 0)
  }
  if (runs.some((r) => r.replicas)) {
    const b = (f) => pick(runs.filter((r) => r.replicas), (r) => f(r.replicas))
    row('2 replicas', 'budget use (one Redis, connections split)', pct(b((x) => x.budgetUse)), '>= 95%', b((x) => x.budgetUse) >= 0.95)
    row('2 replicas', 'objects per call', fmt(b((x) => x.objectsPerCall), 1), '~100')
    row('2 replicas', 'faults 20023 / 20024', `${b((x) => x.faults20023)} / ${b((x) => x.faults20024)}`, '0 / 0', b((x) => x.faults20023 + x.faults20024) === 0)
    row('2 replicas', 'p50 / p99 / max latency ms', `${fmt(b((x) => x.p50), 0)} / ${fmt(b((x) => x.p99), 0)} / ${fmt(b((x) => x.max), 0)}`, `max <= ${fmt(b((x) => x.waitBoundMs), 0)}`, b((x) => x.max) <= b((x) => x.waitBoundMs))
    row('2 replicas', 'rejected requests', fmt(b((x) => x.rejected), 0), '0', b((x) => x.rejected) === 0)
    row('2 replicas', 'switches to the local share (Redis taken for away)', fmt(b((x) => x.redisFallbacks), 0), '0', b((x) => x.redisFallbacks) === 0)
  }
  if (runs.some((r) => r.redisgate)) {
    const g = (f) => pick(runs.filter((r) => r.redisgate), (r) => f(r.redisgate))
    row('redis gate', 'acquire+release p50 / p99 ms: in-process', `${fmt(g((x) => x.inProcess.p50), 3)} / ${fmt(g((x) => x.inProcess.p99), 3)}`)
    row('redis gate', 'acquire+release p50 / p99 ms: Redis', `${fmt(g((x) => x.redis.p50), 3)} / ${fmt(g((x) => x.redis.p99), 3)}`)
    row('redis gate', 'added per call p50 / p99 ms (gate alone)', `${fmt(g((x) => x.redis.p50 - x.inProcess.p50), 3)} / ${fmt(g((x) => x.redis.p99 - x.inProcess.p99), 3)}`)
    row('redis gate', 'gateway 1 obj, 1 conn p50 / p99 ms: in-process', `${fmt(g((x) => x.e2eLocal.p50))} / ${fmt(g((x) => x.e2eLocal.p99))}`)
    row('redis gate', 'gateway 1 obj, 1 conn p50 / p99 ms: REDIS_URL', `${fmt(g((x) => x.e2eRedis.p50))} / ${fmt(g((x) => x.e2eRedis.p99))}`)
    row('redis gate', 'added per request p50 / p99 ms (end to end)', `${fmt(g((x) => x.e2eRedis.p50 - x.e2eLocal.p50))} / ${fmt(g((x) => x.e2eRedis.p99 - x.e2eLocal.p99))}`)
  }
  if (runs.some((r) => r.overhead)) {
    for (const n of [1, 100]) {
      const o = (f) => pick(runs.filter((r) => r.overhead), (r) => f(r.overhead[n]))
      const who = (k) => `${fmt(o((x) => x[k].rps), 0)} req/s, p50 ${fmt(o((x) => x[k].p50))}, p99 ${fmt(o((x) => x[k].p99))}`
      row(`overhead ${n}`, 'gateway', who('gateway'))
      row(`overhead ${n}`, 'direct strong-soap', who('direct'))
      row(`overhead ${n}`, 'bare Fastify', who('bare'))
      row(`overhead ${n}`, 'gateway/direct rps, p50, p99', `${fmt(o((x) => x.rpsVsDirect))}, ${fmt(o((x) => x.p50VsDirect))}x, ${fmt(o((x) => x.p99VsDirect))}x`,
        n === 100 ? 'p50 <= 1.3x' : 'p50 <= direct + 2 ms',
        n === 100 ? o((x) => x.p50VsDirect) <= 1.3 : o((x) => x.p50MinusDirectMs) <= 2)
      if (n === 1) row(`overhead ${n}`, `gateway p50 - direct p50 (${CFG.connections} connections)`, `${fmt(o((x) => x.p50MinusDirectMs))} ms`)
      row(`overhead ${n}`, 'gateway/bare rps, p50, p99', `${fmt(o((x) => x.rpsVsBare))}, ${fmt(o((x) => x.p50VsBare))}x, ${fmt(o((x) => x.p99VsBare))}x`)
    }
    const serial = runs.filter((r) => r.overhead?.serial)
    if (serial.length > 0) {
      const o = (f) => pick(serial, (r) => f(r.overhead.serial))
      row('overhead 1', 'gateway / direct p50, 1 connection', `${fmt(o((x) => x.gateway.p50))} / ${fmt(o((x) => x.direct.p50))} ms`)
      row('overhead 1', 'gateway p50 - direct p50 (1 connection)', `${fmt(o((x) => x.p50MinusDirectMs))} ms`, '<= 2 ms', o((x) => x.p50MinusDirectMs) <= 2)
    }
  }
  if (soak) {
    row('soak', `RSS steady (median / max) MB, ${CFG.soakS} s`, `${fmt(soak.rssMB, 0)} / ${fmt(soak.rssMaxMB, 0)}`, '< 150', soak.rssMaxMB < 150)
    row('soak', `heap used at ${soak.markS[0]} s -> ${soak.markS[1]} s MB`, `${fmt(soak.heap1MB, 1)} -> ${fmt(soak.heap5MB, 1)} (${pct(soak.heapGrowth)})`, '< 10%', soak.heapGrowth < 0.1)
    row('soak', 'event-loop delay p99 (max / median of scrapes)', `${fmt(soak.lagP99Ms, 1)} / ${fmt(soak.lagP99MedianMs, 1)} ms`, '< 20 ms', soak.lagP99Ms < 20)
    row('soak', `load (${soak.mode}): 1-obj / 100-obj req/s, objects/s, failed`, `${fmt(soak.rps1, 0)} / ${fmt(soak.rps100, 1)}, ${fmt(soak.objectsPerS, 0)}, ${soak.failed}`)
  }
  if (runs.some((r) => r.job)) {
    const j = (f) => pick(runs.filter((r) => r.job), (r) => f(r.job))
    row('job', `${CFG.jobObjects} objects, obj/s (share 0.5 of ${CFG.jobRateCalls}/${CFG.jobRateWindowMs} ms)`, fmt(j((x) => x.objectsPerS), 0), `ceiling ${fmt(j((x) => x.ceilingPerS), 0)}`)
    row('job', 'fraction of the share\'s ceiling (whole job / after the first window)', `${pct(j((x) => x.fractionOfCeiling))} / ${pct(j((x) => x.steadyFractionOfCeiling))}`, '>= 90% steady', j((x) => x.steadyFractionOfCeiling) >= 0.9)
    row('job', 'most job calls in any rolling window', fmt(j((x) => x.maxJobCallsInWindow), 0), `<= ${fmt(j((x) => x.shareCallsPerWindow), 0)}`, j((x) => x.maxJobCallsInWindow) <= j((x) => x.shareCallsPerWindow))
    row('job', 'faults (any code)', String(j((x) => Object.values(x.faults).reduce((a, b) => a + b, 0))), '0', j((x) => Object.values(x.faults).reduce((a, b) => a + b, 0)) === 0)
    row('job', 'interactive writes during the job: p50 / p99 ms, errors', `${fmt(j((x) => x.interactiveP50), 0)} / ${fmt(j((x) => x.interactiveP99), 0)}, ${j((x) => x.interactiveErrors)}`, '0 errors', j((x) => x.interactiveErrors) === 0)
  }
  if (runs.some((r) => r.startup)) {
    const s = pick(runs.filter((r) => r.startup), (r) => r.startup.startupMs)
    row('start-up', 'process start -> /readyz 200 (median)', `${fmt(s, 0)} ms`, '< 1500 ms', s < 1500)
  }
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => String(r[i]).length), 6))
  const line = (r) => r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')
  console.log(`\nBenchmark (${QUICK ? 'quick' : 'full'}; ${runs.length} run(s), medians; ${cpus().length} CPUs ${cpus()[0]?.model ?? ''}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}; load average now ${loadavg().map((x) => x.toFixed(2)).join(' ')})`)
  console.log(`overhead: ${CFG.connections} connections (and 1 for 1 object), ${CFG.warmupS} s warm-up + ${CFG.durationS} s; budget: ${CFG.budgetConnections} connections, ${CFG.rateCalls} calls / ${CFG.rateWindowMs} ms, 1 + ${CFG.budgetWindows} windows; soak: ${CFG.soakS} s, ${CFG.soakMode === 'budget' ? `${CFG.soakRate1} 1-obj + ${CFG.soakRate100} 100-obj req/s` : 'closed loops, no rate'}`)
  console.log(line(['section', 'metric', 'value', 'target', '']))
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'))
  for (const r of rows) console.log(line(r))
}

async function main () {
  log('config', JSON.stringify({ quick: QUICK, ...CFG, only: [...ONLY] }))
  if (flags.profile === '1') {
    const dir = join('bench', 'profiles')
    mkdirSync(dir, { recursive: true })
    await benchOverhead(dir)
    const latest = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]
    console.log(`\nTop self time, gateway under the overhead scenario (${latest}):`)
    for (const r of topSelfTime(latest, 25)) console.log(`${r.pct.toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${r.fn}`)
    return
  }
  const runs = []
  for (let i = 0; i < CFG.runs; i++) {
    log(`run ${i + 1}/${CFG.runs}`)
    const r = {}
    if (ONLY.has('startup')) r.startup = await benchStartup()
    if (ONLY.has('budget')) r.budget = await benchBudget()
    if (ONLY.has('replicas')) r.replicas = await benchBudget({ replicas: 2 })
    if (ONLY.has('redisgate')) r.redisgate = await benchRedisGate()
    if (ONLY.has('overhead')) r.overhead = await benchOverhead()
    if (ONLY.has('job')) r.job = await benchJob()
    runs.push(r)
  }
  let soak
  if (ONLY.has('soak')) { log(`soak ${CFG.soakS} s`); soak = await benchSoak() }
  report(runs, soak)
  if (flags.json !== undefined) writeFileSync(flags.json, JSON.stringify({ config: CFG, quick: QUICK, runs, soak }, null, 2))
}

main().then(() => process.exit(0), (err) => { console.error(err); killAll(); process.exit(1) })
