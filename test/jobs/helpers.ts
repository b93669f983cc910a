import assert from 'node:assert/strict'
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
  for (let i = 0; i < 1_200; i++) {
    const job = await getJob(url, id)
    if (until(job)) return job
    await sleep(100)
  }
  throw new Error(`job ${id} did not get there within the polling bound`)
}

/** Every result of a job, streamed as NDJSON. */
export async function streamResults (url: string, id: string): Promise<any[]> {
  const res = await fetch(`${url}/jobs/${id}/results`, { headers: { authorization: `Bearer ${TEST_API_KEY}`, accept: 'application/x-ndjson' } })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/)
  const text = await res.text()
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l))
}
