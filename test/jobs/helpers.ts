import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { TEST_API_KEY, type JsonResponse } from '../helpers/gateway.js'

/** POSTs an NDJSON body (one JSON text per line) to /jobs. */
export async function postNdjson (url: string, lines: Array<string | object>, query: string, init: { headers?: Record<string, string>, auth?: string } = {}): Promise<JsonResponse> {
  const body = lines.map((l) => typeof l === 'string' ? l : JSON.stringify(l)).join('\n') + '\n'
  const res = await fetch(`${url}/jobs?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${init.auth ?? TEST_API_KEY}`, ...init.headers },
    body
  })
  const text = await res.text()
  let parsed: unknown
  try { parsed = text === '' ? undefined : JSON.parse(text) } catch { parsed = undefined }
  return { status: res.status, headers: res.headers, body: parsed, text }
}

export async function getJob (url: string, id: string, auth = TEST_API_KEY): Promise<any> {
  const res = await fetch(`${url}/jobs/${id}`, { headers: { authorization: `Bearer ${auth}` } })
  assert.equal(res.status, 200, await res.clone().text())
  return await res.json()
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled'])

/** Polls until the job has finished (bounded: about two minutes), answering its last view. */
export async function waitForJob (url: string, id: string, until: (job: any) => boolean = (j) => TERMINAL.has(j.state) && j.inFlightChunks === 0): Promise<any> {
  let job: any
  for (let i = 0; i < 1_200; i++) {
    job = await getJob(url, id)
    if (until(job)) return job
    await sleep(100)
  }
  throw new Error(`job ${id} did not get there within the polling bound: ${JSON.stringify(job)}`)
}

/** Every result of a job, streamed as NDJSON. */
export async function streamResults (url: string, id: string): Promise<any[]> {
  const res = await fetch(`${url}/jobs/${id}/results`, { headers: { authorization: `Bearer ${TEST_API_KEY}`, accept: 'application/x-ndjson' } })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/)
  const text = await res.text()
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
}

export interface GatewayProcess {
  url: string
  pid: number
  output: string[]
  /** SIGKILL, by PID, and wait for the exit. */
  kill (): Promise<void>
  /** SIGTERM (graceful drain), by PID, and wait for the exit. */
  stop (): Promise<void>
}

/**
 * A gateway as its own process (`node --import tsx src/server.ts`), on 127.0.0.1 port 0; resolves
 * once it logs the address it listens on.
 */
export async function spawnGateway (env: Record<string, string>): Promise<GatewayProcess> {
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const output: string[] = []
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const onExit = (): void => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') }
  process.once('exit', onExit)
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = ''
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString()
      let nl: number
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        output.push(line)
        const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)
        if (m !== null) resolve(m[1])
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', (c: Buffer) => output.push(c.toString()))
    child.once('exit', (code) => reject(new Error(`gateway exited with ${String(code)} before listening:\n${output.join('\n')}`)))
  })
  const pid = child.pid as number
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    process.off('exit', onExit)
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, signal)
    await exited
  }
  return { url, pid, output, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') }
}
