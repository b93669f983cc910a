import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { commonProblems, problemResponse } from './responses.js'
import { GatewayError } from '../../domain/errors.js'
import type { MObject } from '../../domain/model.js'
import { sendProblem } from '../plugins/errors.js'
import { ref, ObjectResult } from '../schemas/common.js'
import { OpportunityParams } from '../schemas/opportunities.js'
import { DeleteBody, DeleteResult, RoleParams } from '../schemas/reads.js'
import type { DeleteTarget } from '../../upstream/backend.js'
import type { Reader } from '../../upstream/reader.js'
import { fromCallError, fromMarketoStatus, summarize, type ObjectResult as Result } from '../../domain/results.js'
import type { SyncRun } from '../../upstream/sync-service.js'
import { notSent } from '../../upstream/batch.js'

export interface DeleteRoutesOptions {
  requestTimeoutMs: number
  reader: Reader
}

const errorResponses = {
  400: problemResponse('Invalid request: bad id, unknown field, empty or oversized batch'),
  ...commonProblems,
  502: problemResponse('Marketo failed or answered something that cannot be trusted; objects are `unknown` or `not_applied`'),
  504: problemResponse('Marketo did not answer before the deadline; objects are `unknown`')
}

function toMObject (o: DeleteTarget): MObject {
  const m: MObject = { type: o.type }
  if (o.id !== undefined) m.id = o.id
  if (o.marketoGUID !== undefined) m.marketoGUID = o.marketoGUID
  if (o.externalKey !== undefined) m.externalKey = { name: o.externalKey.name, value: o.externalKey.value }
  return m
}

/** A batch's refusal, with its object indexes made the caller's. */
function atOffset (err: GatewayError, start: number): GatewayError {
  const shift = (text: string): string => text.replace(/(\/objects\/|object )(\d+)/g, (_, p: string, i: string) => `${p}${Number(i) + start}`)
  return new GatewayError(err.code, shift(err.message), { cause: err.cause, errors: err.errors?.map((e) => ({ path: shift(e.path), message: e.message })), sent: false })
}

interface DeleteRun {
  results: Result[]
  calls: number
  error?: GatewayError
}

const deleteRoutes: FastifyPluginAsyncTypebox<DeleteRoutesOptions> = async (app, opts) => {
  /** Calls of at most maxDeletesPerCall objects (SOAP 100, REST 300) of one delete group, in input order. */
  function batches (objects: readonly DeleteTarget[]): Array<{ start: number, batch: DeleteTarget[] }> {
    const out: Array<{ start: number, batch: DeleteTarget[] }> = []
    objects.forEach((o, i) => {
      const last = out.at(-1)
      if (last === undefined || last.batch.length >= opts.reader.maxDeletesPerCall || opts.reader.deleteGroup(last.batch[0]) !== opts.reader.deleteGroup(o)) out.push({ start: i, batch: [o] })
      else last.batch.push(o)
    })
    return out
  }

  // One call after the other; after a failed call the rest is not sent.
  async function run (request: FastifyRequest, objects: readonly DeleteTarget[]): Promise<DeleteRun> {
    const deadline = request.deadline
    const results: Result[] = []
    let calls = 0
    let error: GatewayError | undefined
    // What the backend cannot express is refused for the whole request before any call.
    const planned = batches(objects).map(({ start, batch }) => {
      try {
        return { start, batch, call: opts.reader.prepareDelete(batch) }
      } catch (err) {
        throw err instanceof GatewayError && err.errors !== undefined ? atOffset(err, start) : err
      }
    })
    for (const { start, batch, call } of planned) {
      const sent: MObject[] = batch.map(toMObject)
      if (error !== undefined) {
        const skipped = notSent(error)
        sent.forEach((o, i) => results.push(fromCallError(start + i, o, skipped)))
        continue
      }
      calls++
      try {
        const statuses = await opts.reader.deleteMObjects(batch, deadline, request.log, call)
        statuses.forEach((s, i) => results.push(fromMarketoStatus(start + i, sent[i], s)))
      } catch (err) {
        error = err instanceof GatewayError ? err : new GatewayError('INTERNAL', 'unexpected error while deleting', { cause: err, sent: true })
        const failed = error
        sent.forEach((o, i) => results.push(fromCallError(start + i, o, failed)))
      }
    }
    const summary = summarize(results)
    // The audit line lists the ids and statuses; a delete has no sync operation of its own.
    request.audit = { operation: 'DELETE', run: { operation: 'DELETE', results, summary, calls } as unknown as SyncRun }
    request.log.info({ operation: 'DELETE', objects: objects.length, marketoCalls: calls, summary, upstreamCode: error?.upstreamCode }, 'delete finished')
    return { results, calls, error }
  }

  function sendSingle (request: FastifyRequest, reply: FastifyReply, r: DeleteRun): FastifyReply {
    if (r.error !== undefined) return sendProblem(request, reply, r.error, { summary: summarize(r.results), results: r.results })
    const result = r.results[0]
    return reply.code(result.status === 'failed' ? 207 : 200).send(result)
  }

  const single = (what: string) => ({
    200: { ...ref(ObjectResult), description: `deleted, or unchanged when no ${what} has this id` },
    207: { ...ref(ObjectResult), description: 'Marketo refused the delete; see error' },
    ...errorResponses
  })

  app.delete('/opportunities/:id', {
    schema: {
      tags: ['opportunities'],
      operationId: 'deleteOpportunity',
      summary: 'Delete one opportunity (and its roles)',
      description: 'deleteMObjects. Deleting an opportunity that does not exist answers `unchanged`.',
      params: OpportunityParams,
      response: single('opportunity')
    }
  }, async (request, reply) => {
    return sendSingle(request, reply, await run(request, [{ type: 'Opportunity', id: request.params.id }]))
  })

  app.delete('/opportunities/roles/:id', {
    schema: {
      tags: ['opportunities'],
      operationId: 'deleteOpportunityRole',
      summary: 'Delete one opportunity person role',
      description: 'deleteMObjects. Deleting a role that does not exist answers `unchanged`.',
      params: RoleParams,
      response: single('role')
    }
  }, async (request, reply) => {
    return sendSingle(request, reply, await run(request, [{ type: 'OpportunityPersonRole', id: request.params.id }]))
  })

  app.post('/mobjects/delete', {
    schema: {
      tags: ['mobjects'],
      operationId: 'deleteMObjects',
      summary: 'Delete opportunities and roles in a batch (1 to 1,000)',
      description: 'deleteMObjects in calls of at most 100 (REST backend: 300, by type and by how the objects are named); results in input order, each deleted, unchanged (not found) or failed.',
      body: DeleteBody,
      response: {
        200: { ...ref(DeleteResult), description: 'No object failed' },
        207: { ...ref(DeleteResult), description: 'At least one object failed; see results[].error' },
        ...errorResponses,
        413: problemResponse('Body larger than the limit'),
        415: problemResponse('Body is not application/json')
      }
    }
  }, async (request, reply) => {
    const r = await run(request, request.body.objects.map((o): DeleteTarget => 'personId' in o
      ? { type: o.type, roleKey: { opportunity: { name: o.opportunity.externalKey.name, value: o.opportunity.externalKey.value }, personId: o.personId, role: o.role } }
      : o))
    const summary = summarize(r.results)
    if (r.error !== undefined) return sendProblem(request, reply, r.error, { summary, results: r.results })
    return reply.code(summary.failed > 0 ? 207 : 200).send({ requestId: String(request.id), operation: 'delete', summary, results: r.results })
  })
}

export default deleteRoutes
