import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { startSimulator, DEMO_USER_ID, DEMO_ENCRYPTION_KEY, type RunningSimulator, type SimulatorOptions } from '../../src/simulator/index.js'

export interface TestGateway {
  url: string
  app: FastifyInstance
  sim: RunningSimulator
  logs: string[]
  close (): Promise<void>
}

// Every log line of every test gateway, for the secret scan (see secrets.test.ts).
export const allLogLines: string[] = []

export interface GatewayOptions {
  env?: Record<string, string>
  simulator?: SimulatorOptions
  now?: () => Date
}

// A real simulator and a real gateway, both on 127.0.0.1 port 0, talking over HTTP.
export async function startGateway (opts: GatewayOptions = {}): Promise<TestGateway> {
  const sim = await startSimulator({ host: '127.0.0.1', port: 0, ...opts.simulator })
  const logs: string[] = []
  const logStream = new Writable({
    write (chunk, _enc, cb) {
      const line = String(chunk)
      logs.push(line)
      allLogLines.push(line)
      cb()
    }
  })
  const config = loadConfig({
    PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
    MARKETO_SOAP_ENDPOINT: sim.endpoint,
    MARKETO_USER_ID: DEMO_USER_ID,
    MARKETO_ENCRYPTION_KEY: DEMO_ENCRYPTION_KEY,
    ...opts.env
  })
  const app = await buildApp(config, { logStream, now: opts.now })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no address')
  return {
    url: `http://127.0.0.1:${address.port}`,
    app,
    sim,
    logs,
    async close () {
      await app.close()
      await sim.close()
    }
  }
}

export interface JsonResponse {
  status: number
  headers: Headers
  body: any
  text: string
}

export async function request (url: string, init: { method?: string, body?: unknown, rawBody?: string, headers?: Record<string, string> } = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...init.headers }
  let body: string | undefined
  if (init.rawBody !== undefined) body = init.rawBody
  else if (init.body !== undefined) {
    body = JSON.stringify(init.body)
    headers['content-type'] ??= 'application/json'
  }
  const res = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body })
  const text = await res.text()
  let parsed: unknown
  try {
    parsed = text === '' ? undefined : JSON.parse(text)
  } catch {
    parsed = undefined
  }
  return { status: res.status, headers: res.headers, body: parsed, text }
}

export function syncCalls (sim: RunningSimulator): number {
  return sim.ledger.filter((e) => e.operation === 'syncMObjects').length
}
