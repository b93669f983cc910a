import { Writable } from 'node:stream'
import assert from 'node:assert/strict'
import { appendFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { loadConfig } from '../../src/config.js'
import { startSimulator, fromGuid, DEMO_USER_ID, DEMO_ENCRYPTION_KEY, DEMO_REST_CLIENT_ID, DEMO_REST_CLIENT_SECRET, type LedgerEntry, type RunningSimulator, type SimulatorOptions } from '../../simulator/index.js'
import { restRequestProblems } from './rest-schema.js'

export interface TestGateway {
  url: string
  app: FastifyInstance
  sim: RunningSimulator
  logs: string[]
  close (): Promise<void>
}

// Every log line of every test gateway, for the secret scan (see secrets.test.ts).
export const allLogLines: string[] = []

// API keys used by the tests. The secret scan (test/steps/secret-scan.test.ts) checks that none
// of them ever reaches a log line, so every key a test sends must be listed here.
export const TEST_API_KEY = 'gw-test-key-0c5e8a9d41f7b3'
export const TEST_API_KEYS = {
  default: TEST_API_KEY,
  alice: 'alice-key-7d2f61b0c9e84a55',
  bob: 'bob-key-3a9c0e7f12d64b88',
  old: 'rotated-old-key-5be1c7d0a3f2',
  next: 'rotated-new-key-91d4e6b2c8a0'
} as const

export function hashKey (key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex')
}

// With TEST_LOG_FILE / TEST_SECRETS_FILE set (by the secret scan), every log line and every
// requestSignature the simulators saw are also appended to those files.
function recordLine (line: string): void {
  if (process.env.TEST_LOG_FILE !== undefined) appendFileSync(process.env.TEST_LOG_FILE, line.endsWith('\n') ? line : line + '\n')
}

function recordSignatures (sim: RunningSimulator): void {
  if (process.env.TEST_SECRETS_FILE === undefined) return
  const sigs = sim.ledger.map((e) => e.requestSignature).filter((s): s is string => typeof s === 'string' && s !== '')
  if (sigs.length > 0) appendFileSync(process.env.TEST_SECRETS_FILE, sigs.join('\n') + '\n')
}

/**
 * The Marketo backend the test gateways use: TEST_BACKEND=rest runs them against the simulator's
 * REST face (test/steps/rest-routes.test.ts runs the route suite that way).
 */
export const TEST_BACKEND: 'soap' | 'rest' = process.env.TEST_BACKEND === 'rest' ? 'rest' : 'soap'

/** For assertions that only hold on the SOAP backend: the reason to skip them on REST, or false. */
export function soapOnly (what: string): string | false {
  return TEST_BACKEND === 'rest' ? `SOAP-only: ${what}` : false
}

export interface GatewayOptions {
  /** Default TEST_BACKEND. */
  backend?: 'soap' | 'rest'
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
      recordLine(line)
      cb()
    }
  })
  const backend = opts.backend ?? TEST_BACKEND
  // A configuration the gateway refuses must not leave the simulator listening (the test process
  // would never exit).
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig({
      PORT: '0',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
      MARKETO_SOAP_ENDPOINT: sim.endpoint,
      MARKETO_USER_ID: DEMO_USER_ID,
      MARKETO_ENCRYPTION_KEY: DEMO_ENCRYPTION_KEY,
      ...(backend === 'rest'
        ? { MARKETO_BACKEND: 'rest', MARKETO_REST_ENDPOINT: sim.restEndpoint, MARKETO_CLIENT_ID: DEMO_REST_CLIENT_ID, MARKETO_CLIENT_SECRET: DEMO_REST_CLIENT_SECRET }
        : {}),
      // A default caller key, which request() sends unless told otherwise.
      ...(opts.env?.AUTH_DISABLED === undefined ? { API_KEYS: `test:${hashKey(TEST_API_KEY)}` } : {}),
      ...opts.env
    })
  } catch (err) {
    await sim.close()
    throw err
  }
  // Every REST request the simulator received must match the official OpenAPI subset's schemas.
  const restProblems: string[] = []
  const checkRest = (): void => { for (const e of sim.ledger) restProblems.push(...restRequestProblems(e)) }
  const simReset = sim.reset.bind(sim)
  sim.reset = () => { recordSignatures(sim); checkRest(); simReset() }
  let app: Awaited<ReturnType<typeof buildApp>>
  try {
    app = await buildApp(config, { logStream, now: opts.now })
  } catch (err) {
    await sim.close()
    throw err
  }
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
      recordSignatures(sim)
      checkRest()
      await sim.close()
      if (restProblems.length > 0) throw new Error(`REST requests outside the OpenAPI subset's schemas:\n${[...new Set(restProblems)].slice(0, 20).join('\n')}`)
    }
  }
}

export interface JsonResponse {
  status: number
  headers: Headers
  body: any
  text: string
}

// Sends `Authorization: Bearer TEST_API_KEY` unless the headers carry one or `auth` says otherwise
// (`false`: none, a string: that key).
export async function request (url: string, init: { method?: string, body?: unknown, rawBody?: string, headers?: Record<string, string>, auth?: string | false } = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...init.headers }
  if (init.auth !== false && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
    headers.authorization = `Bearer ${init.auth ?? TEST_API_KEY}`
  }
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

/**
 * The Marketo operation a ledger entry stands for. The REST face names it only once a call is
 * admitted; a REST call answered before that (a fault knob, a rejected token) is named by its
 * method and path, so it still counts as the call it was.
 */
export function ledgerOperation (e: LedgerEntry): string {
  if (e.operation !== '' || e.rest === undefined) return e.operation
  if (e.rest.path.endsWith('/delete.json')) return 'deleteMObjects'
  if (e.rest.path.endsWith('/describe.json')) return 'describeMObject'
  return e.rest.method === 'GET' ? 'getMObjects' : 'syncMObjects'
}

export function upstreamCalls (sim: RunningSimulator, operation: string): number {
  return sim.ledger.filter((e) => ledgerOperation(e) === operation).length
}

export function syncCalls (sim: RunningSimulator): number {
  return upstreamCalls(sim, 'syncMObjects')
}

/**
 * The simulator's id of an opportunity or role in a write or delete result: `id` on SOAP; on REST
 * `id` is null and the record is named by its marketoGUID (which the simulator derives from its id).
 */
export function storeId (kind: 'opportunity' | 'role', result: { id?: number | null, marketoGUID?: string }): number {
  if (TEST_BACKEND === 'soap') {
    assert.ok(Number.isSafeInteger(result.id), `an integer id: ${JSON.stringify(result)}`)
    return result.id as number
  }
  assert.equal(result.id, null, 'REST results have no integer id')
  const id = fromGuid(kind, result.marketoGUID ?? '')
  assert.ok(id !== undefined, `a ${kind} marketoGUID: ${JSON.stringify(result)}`)
  return id
}

/**
 * REST backend: `res` is the 400 saying the REST backend cannot express the request, and nothing
 * but describe calls (which the read routes may make alongside) reached Marketo since `ledgerBefore`.
 */
export function assertRestRefusal (res: JsonResponse, sim: RunningSimulator, ledgerBefore: number, detail: RegExp = /not supported by the REST backend/): void {
  assert.equal(res.status, 400, res.text)
  assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  assert.equal(res.body.code, 'VALIDATION_FAILED')
  assert.match(res.body.detail, detail)
  const reached = sim.ledger.slice(ledgerBefore).filter((e) => ledgerOperation(e) !== 'describeMObject')
  assert.deepEqual(reached.map((e) => e.rest?.path ?? e.operation), [], 'nothing reached Marketo')
}
