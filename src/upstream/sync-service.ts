import { GatewayError } from '../domain/errors.js'
import type { MObject, SyncOperation } from '../domain/model.js'
import type { CallLog } from './executor.js'
import type { BeforeSend, Dispatcher } from './coalescer.js'
import { fromCallError, fromMarketoStatus, summarize, type ObjectResult, type Summary } from '../domain/results.js'

export const MAX_OBJECTS_PER_CALL = 100

export interface SyncPlan {
  operation: SyncOperation
  objects: MObject[]
}

export interface SyncRun {
  operation: SyncOperation
  results: ObjectResult[]
  summary: Summary
  calls: number
  // The first call-level failure in input order, when any call failed as a whole.
  error?: GatewayError
}

function identity (o: MObject): string | undefined {
  if (o.id !== undefined) return `${o.type}#${o.id}`
  if (o.externalKey !== undefined) return `${o.type}@${o.externalKey.name}=${o.externalKey.value}`
  if (o.marketoGUID !== undefined) return `${o.type}~${o.marketoGUID}`
  return undefined
}

// Chunks of one request may run concurrently only when they cannot depend on each other:
// Marketo applies objects in order within a call, so mixed types (a role after its opportunity)
// or the same object named in two chunks must go one chunk after the other.
export function chunksAreIndependent (chunks: MObject[][], keyOf: (o: MObject) => string | undefined = identity): boolean {
  if (chunks.length < 2) return true
  const type = chunks[0][0].type
  const seen = new Map<string, number>()
  for (let c = 0; c < chunks.length; c++) {
    for (const o of chunks[c]) {
      if (o.type !== type) return false
      const key = keyOf(o) ?? identity(o)
      if (key === undefined) continue
      const prev = seen.get(key)
      if (prev !== undefined && prev !== c) return false
      seen.set(key, c)
    }
  }
  return true
}

export function chunk<T> (items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

// Requests are cut into chunks of the backend's maxObjectsPerCall (SOAP 100, REST 300).
export class SyncService {
  constructor (private readonly dispatcher: Dispatcher, private readonly chunkSize = MAX_OBJECTS_PER_CALL, private readonly recordKey?: (o: MObject) => string | undefined) {}

  /**
   * beforeSend: run once a call slot is held, right before this request's first Marketo call
   * (request.idempotencyClaim.markCalling); false or a throw: nothing of the request is sent.
   */
  async run (plan: SyncPlan, deadline: number, log: CallLog, beforeSend?: BeforeSend): Promise<SyncRun> {
    const chunks = chunk(plan.objects, this.chunkSize)
    const results: ObjectResult[] = new Array(plan.objects.length)
    let calls = 0
    const errors: Array<GatewayError | undefined> = new Array(chunks.length)

    const runChunk = async (c: number): Promise<void> => {
      const objects = chunks[c]
      const offset = c * this.chunkSize
      const outcome = await this.dispatcher.send(plan.operation, objects, deadline, log, beforeSend)
      calls += outcome.calls
      if (outcome.error !== undefined) errors[c] = outcome.error
      outcome.results.forEach((r, i) => {
        results[offset + i] = r instanceof GatewayError ? fromCallError(offset + i, objects[i], r) : fromMarketoStatus(offset + i, objects[i], r)
      })
    }

    if (chunksAreIndependent(chunks, this.recordKey)) {
      // The limiter bounds how many of these are in flight across the whole process.
      await Promise.all(chunks.map((_, c) => runChunk(c)))
    } else {
      for (let c = 0; c < chunks.length; c++) await runChunk(c)
    }
    return { operation: plan.operation, results, summary: summarize(results), calls, error: errors.find((e) => e !== undefined) }
  }
}
