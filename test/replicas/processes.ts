import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { hashKey, TEST_API_KEY } from '../helpers/gateway.js'
import { DEMO_ENCRYPTION_KEY, DEMO_USER_ID, type LedgerEntry } from '../../simulator/index.js'

/**
 * Gateways and the simulator as separate processes (node --import tsx, so the source under test
 * is what runs, never a stale build), on 127.0.0.1 port 0. Every process is killed by its PID
 * when the test file ends, even if it crashes.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const START_TIMEOUT_MS = 30_000
const started = new Set<ChildProcess>()
process.once('exit', () => { for (const c of started) if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL') })

export interface Proc {
  readonly pid: number
  url: string
  logs: string[]
  /** Sends the signal to this process only (by PID). */
  signal (sig: NodeJS.Signals): void
  /** SIGKILL and wait for the exit. */
  kill (): Promise<void>
  /** SIGTERM and wait for the exit (SIGKILL after 10 s). */
  stop (): Promise<void>
}

function launch (script: string, env: Record<string, string>, ready: (line: Record<string, unknown>) => string | undefined): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  started.add(child)
  const logs: string[] = []
  const exited = new Promise<void>((resolve) => child.once('exit', () => { started.delete(child); resolve() }))
  return new Promise<Proc>((resolve, reject) => {
    let done = false
    const timer = setTimeout(() => fail(new Error(`${script} did not start within ${START_TIMEOUT_MS} ms:\n${logs.join('\n')}`)), START_TIMEOUT_MS)
    const fail = (err: Error): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL')
      reject(err)
    }
    let buffer = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk
      let nl: number
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + 1)
        logs.push(line)
        if (done) continue
        let parsed: Record<string, unknown>
        try { parsed = JSON.parse(line) as Record<string, unknown> } catch { continue }
        const url = ready(parsed)
        if (url === undefined) continue
        done = true
        clearTimeout(timer)
        const pid = child.pid as number
        const alive = (): boolean => child.exitCode === null && child.signalCode === null
        resolve({
          pid,
          url,
          logs,
          signal: (sig) => { if (alive()) process.kill(pid, sig) },
          kill: async () => { if (alive()) process.kill(pid, 'SIGKILL'); await exited },
          stop: async () => {
            if (alive()) process.kill(pid, 'SIGTERM')
            const force = setTimeout(() => { if (alive()) process.kill(pid, 'SIGKILL') }, 10_000)
            await exited
            clearTimeout(force)
          }
        })
      }
    })
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk: string) => logs.push(chunk))
    child.once('exit', (code, sig) => fail(new Error(`${script} exited (${code ?? sig}) before it was ready:\n${logs.join('\n')}`)))
  })
}

export interface SimLimits {
  rateLimit: { calls: number, windowMs: number } | null
  maxConcurrent: number | null
  dailyQuota?: number | null
}

export interface SimProc extends Proc {
  /** SOAP endpoint */
  endpoint: string
  ledger (): Promise<LedgerEntry[]>
  stats (): Promise<{ totalCalls: number, peakConcurrent: number, currentConcurrent: number, faultsByCode: Record<string, number> }>
  knobDefault (knob?: object): Promise<void>
  limits (l: SimLimits): Promise<void>
  reset (): Promise<void>
}

export async function startSimulatorProcess (limits: SimLimits): Promise<SimProc> {
  const env: Record<string, string> = { SIMULATOR_PORT: '0', SIMULATOR_ADMIN: '1' }
  const p = await launch('simulator/server.ts', env, (l) => l.msg === 'Marketo SOAP simulator ready' ? String(l.endpoint) : undefined)
  const base = new URL(p.url).origin
  const post = async (path: string, body?: unknown): Promise<void> => {
    const res = await fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body === undefined ? '' : JSON.stringify(body) })
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`)
  }
  const sim: SimProc = {
    ...p,
    get pid () { return p.pid },
    endpoint: p.url,
    url: base,
    ledger: async () => await (await fetch(base + '/__admin/ledger')).json() as LedgerEntry[],
    stats: async () => await (await fetch(base + '/__admin/stats')).json() as Awaited<ReturnType<SimProc['stats']>>,
    knobDefault: (knob) => post('/__admin/knobs/default', knob),
    limits: (l) => post('/__admin/limits', l),
    reset: () => post('/__admin/reset')
  }
  await sim.limits(limits)
  return sim
}

export const REPLICA_KEY = TEST_API_KEY

export async function startReplica (endpoint: string, redisUrl: string | undefined, env: Record<string, string> = {}): Promise<Proc> {
  const base: Record<string, string> = {
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    MARKETO_SOAP_ENDPOINT: endpoint,
    MARKETO_USER_ID: DEMO_USER_ID,
    MARKETO_ENCRYPTION_KEY: DEMO_ENCRYPTION_KEY,
    API_KEYS: `test:${hashKey(TEST_API_KEY)}`,
    MARKETO_REPLICAS: '2',
    ...env
  }
  if (redisUrl !== undefined) base.REDIS_URL = redisUrl
  return await launch('src/server.ts', base, (l) => {
    const m = typeof l.msg === 'string' ? /^Server listening at (http:\/\/127\.0\.0\.1:\d+)$/.exec(l.msg) : null
    return m === null ? undefined : m[1]
  })
}

/** Counts in a ledger: the most calls received in any rolling window of windowMs. */
export function maxInWindow (ledger: LedgerEntry[], windowMs: number): number {
  const t = ledger.map((e) => Date.parse(e.receivedAt)).sort((a, b) => a - b)
  let best = 0
  let lo = 0
  for (let hi = 0; hi < t.length; hi++) {
    while (t[hi] - t[lo] >= windowMs) lo++
    best = Math.max(best, hi - lo + 1)
  }
  return best
}

export interface Answer { status: number, body: any, headers: Headers, ms: number }

export async function postOpportunity (url: string, body: object, headers: Record<string, string> = {}, timeoutMs = 20_000): Promise<Answer> {
  const t0 = Date.now()
  const res = await fetch(`${url}/opportunities`, {
    method: 'POST',
    headers: { authorization: `Bearer ${REPLICA_KEY}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs)
  })
  const text = await res.text()
  let parsed: unknown = text
  try { parsed = JSON.parse(text) } catch {}
  return { status: res.status, body: parsed, headers: res.headers, ms: Date.now() - t0 }
}
