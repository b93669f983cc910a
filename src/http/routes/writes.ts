import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { commonProblems, problemResponse } from './responses.js'
import { GatewayError } from '../../domain/errors.js'
import { MappingError } from '../mapping/mapping-error.js'
import type { SyncPlan } from '../mapping/plan.js'
import { planProgramCosts, planProgramTags } from '../mapping/programs.js'
import { planOpportunities, planOpportunityPatch } from '../mapping/opportunities.js'
import { planRoles } from '../mapping/roles.js'
import { planMObjects } from '../mapping/mobjects.js'
import { ref, SyncResult, ObjectResult, DryRunResult } from '../schemas/common.js'
import { ProgramParams, ProgramCostsBody, ProgramTagsBody } from '../schemas/programs.js'
import { OpportunityParams, OpportunitiesBody, OpportunityPatchBody } from '../schemas/opportunities.js'
import { RolesBody } from '../schemas/roles.js'
import { MObjectsSyncBody } from '../schemas/mobjects.js'
import { sendProblem } from '../plugins/errors.js'
import { chunk, type SyncRun } from '../../upstream/sync-service.js'
import { Type } from '@sinclair/typebox'
import { checkCustomFields, describedFields, type DescribeCache, type NamedField } from '../../upstream/describe-cache.js'

export interface WriteRoutesOptions {
  requestTimeoutMs: number
  /**
   * When set (VALIDATE_CUSTOM_FIELDS, true by default on REST), opportunity fields unknown to the
   * cached describe answer 400 before any write.
   */
  describeCache?: DescribeCache
  /** Whether an external key's name is checked against the describe too (false: the backend checks it, as REST does). */
  checkKeyNames?: boolean
}

const errorResponses = {
  400: problemResponse('Invalid request: unknown field, wrong type, bad string, out-of-range value, empty or oversized batch'),
  ...commonProblems,
  413: problemResponse('Body larger than the limit'),
  415: problemResponse('Body is not application/json'),
  502: problemResponse('Marketo failed or answered something that cannot be trusted; objects are `unknown` or `not_applied`'),
  504: problemResponse('Marketo did not answer before the deadline; objects are `unknown`')
}
export const DryRunQuery = Type.Object({
  dryRun: Type.Optional(Type.Boolean({ default: false, description: 'Validate and map only: answer with the SOAP envelopes (REST: calls) that would be sent (signature redacted) and the per-object plan; nothing is sent to Marketo but, with VALIDATE_CUSTOM_FIELDS, the describe read (cached) that checks the field names' }))
}, { additionalProperties: false })

const syncResponses = {
  200: { anyOf: [ref(SyncResult), ref(DryRunResult)], description: 'Every object has a Marketo status and none failed (or, with ?dryRun=true, the plan)' },
  207: { ...ref(SyncResult), description: 'At least one object failed; see results[].error' },
  ...errorResponses
}

/** Where each route's objects sit in its body, for the JSON paths of a 400. */
const ITEM_PREFIX: Record<string, string> = {
  '/opportunities': '/opportunities',
  '/opportunities/roles': '/roles',
  '/mobjects/sync': '/mObjects'
}

function toPlan (build: () => SyncPlan): SyncPlan {
  try {
    return build()
  } catch (err) {
    if (err instanceof MappingError) {
      throw new GatewayError('VALIDATION_FAILED', err.message, { errors: [{ path: err.path, message: err.message.slice(err.path.length + 1) }] })
    }
    throw err
  }
}

const writeRoutes: FastifyPluginAsyncTypebox<WriteRoutesOptions> = async (app, opts) => {
  // ?dryRun=true on every write route.
  app.addHook('onRoute', (route) => {
    if (route.method === 'GET' || route.schema === undefined) return
    route.schema.querystring = DryRunQuery
  })

  // Returns whether it answered (a boolean: a FastifyReply is thenable and would be awaited).
  async function dryRun (request: FastifyRequest, reply: FastifyReply, plan: SyncPlan): Promise<boolean> {
    // What the configured backend cannot honour answers 400 before a dry run or any call.
    const api = app.marketo.api
    const prefix = ITEM_PREFIX[request.routeOptions.url ?? '']
    api.checkWrite(plan.operation, plan.objects, (index, path) => prefix === undefined ? path : `${prefix}/${index}${path}`)
    if ((request.query as { dryRun?: boolean }).dryRun !== true) return false
    const perCall = api.maxObjectsPerCall
    const chunks = chunk(plan.objects, perCall)
    const calls = await Promise.all(chunks.map(async (objects) => ({
      objects: objects.length,
      envelope: await api.preview(plan.operation, objects)
    })))
    const body = {
      requestId: String(request.id),
      dryRun: true,
      operation: plan.operation,
      plan: plan.objects.map((o, index) => ({
        index,
        type: o.type,
        ...(o.id !== undefined ? { id: o.id } : {}),
        ...(o.externalKey !== undefined ? { externalKey: { name: o.externalKey.name, value: o.externalKey.value } } : {}),
        call: Math.floor(index / perCall)
      })),
      calls
    }
    reply.code(200).send(body)
    return true
  }

  async function checkOpportunityFields (request: FastifyRequest, opportunities: ReadonlyArray<{ customFields?: object, externalKey?: { name: string } }>, path: (i: number) => string): Promise<void> {
    if (opts.describeCache === undefined) return
    const fields: NamedField[] = []
    opportunities.forEach((o, i) => {
      if (o.externalKey !== undefined && opts.checkKeyNames !== false) fields.push({ path: `${path(i)}/externalKey/name`, name: o.externalKey.name })
      fields.push(...describedFields(o, path(i)))
    })
    await checkCustomFields(opts.describeCache, 'Opportunity', fields, request.deadline, request.log)
  }

  /** The generic route's Opportunity attributes, by Marketo API name, as the describe lists them. */
  async function checkMObjectFields (request: FastifyRequest, mObjects: ReadonlyArray<{ type: string, attributes?: object }>): Promise<void> {
    if (opts.describeCache === undefined) return
    const fields: NamedField[] = []
    mObjects.forEach((o, i) => { fields.push(...describedFields(o, `/mObjects/${i}`)) })
    await checkCustomFields(opts.describeCache, 'Opportunity', fields, request.deadline, request.log)
  }

  async function execute (request: FastifyRequest, plan: SyncPlan): Promise<SyncRun> {
    const started = Date.now()
    // With an Idempotency-Key, phase calling is recorded before the first Marketo call (issue #15).
    const run = await app.marketo.sync.run(plan, request.deadline, request.log, request.idempotencyClaim?.markCalling)
    request.audit = { operation: plan.operation, run }
    app.metrics.recordRun(request.routeOptions.url ?? 'unmatched', run)
    request.log.info({
      operation: plan.operation,
      objects: plan.objects.length,
      marketoCalls: run.calls,
      summary: run.summary,
      upstreamCode: run.error?.upstreamCode,
      durationMs: Date.now() - started
    }, 'sync finished')
    return run
  }

  function sendRun (request: FastifyRequest, reply: FastifyReply, run: SyncRun): FastifyReply {
    if (run.error !== undefined) {
      return sendProblem(request, reply, run.error, { summary: run.summary, results: run.results })
    }
    return reply.code(run.summary.failed > 0 ? 207 : 200).send({
      requestId: String(request.id),
      operation: run.operation.toLowerCase(),
      summary: run.summary,
      results: run.results
    })
  }

  app.post('/programs/:programId/costs', {
    schema: {
      tags: ['programs'],
      operationId: 'syncProgramCosts',
      summary: 'Add or update period costs of a program',
      description: 'One Program MObject, UPDATE, one Cost per entry. A cost with `id` updates that cost line (SOAP); without `id` a new line is appended (so a retry without an Idempotency-Key may append it twice). ' +
        'With `"replace": true` (REST backend only: Update Program with costsDestructiveUpdate) these lines replace all existing ones, and a retry is harmless; the SOAP backend answers 400 to it.',
      params: ProgramParams,
      body: ProgramCostsBody,
      response: syncResponses
    }
  }, async (request, reply) => {
    const plan = toPlan(() => planProgramCosts(request.params.programId, request.body))
    if (await dryRun(request, reply, plan)) return reply
    return sendRun(request, reply, await execute(request, plan))
  })

  app.post('/programs/:programId/tags', {
    schema: {
      tags: ['programs'],
      operationId: 'syncProgramTags',
      summary: 'Set tags and channel of a program',
      description: 'Tag types and values must already exist in Marketo; an unknown one fails the program. ' +
        'On the REST backend a Channel tag answers 400 before any call: the REST API sets a program\'s channel only when the program is created.',
      params: ProgramParams,
      body: ProgramTagsBody,
      response: syncResponses
    }
  }, async (request, reply) => {
    const plan = toPlan(() => planProgramTags(request.params.programId, request.body))
    if (await dryRun(request, reply, plan)) return reply
    return sendRun(request, reply, await execute(request, plan))
  })

  app.post('/opportunities', {
    schema: {
      tags: ['opportunities'],
      operationId: 'syncOpportunities',
      summary: 'Insert, update or upsert opportunities (1 to 1,000)',
      description: 'Objects are sent in calls of at most 100 (300 records on the REST backend) and the results come back in input order.',
      body: OpportunitiesBody,
      response: syncResponses
    }
  }, async (request, reply) => {
    const plan = toPlan(() => planOpportunities(request.body))
    await checkOpportunityFields(request, request.body.opportunities, (i) => `/opportunities/${i}`)
    if (await dryRun(request, reply, plan)) return reply
    return sendRun(request, reply, await execute(request, plan))
  })

  app.patch('/opportunities/:id', {
    schema: {
      tags: ['opportunities'],
      operationId: 'updateOpportunity',
      summary: 'Update one opportunity',
      description: 'UPDATE by id. A missing opportunity answers 404.',
      params: OpportunityParams,
      body: OpportunityPatchBody,
      response: {
        200: { anyOf: [ref(ObjectResult), ref(DryRunResult)], description: 'Updated or unchanged (or, with ?dryRun=true, the plan)' },
        207: { ...ref(ObjectResult), description: 'Marketo refused the update; see error' },
        404: problemResponse('No opportunity with this id'),
        ...errorResponses
      }
    }
  }, async (request, reply) => {
    const plan = toPlan(() => planOpportunityPatch(request.params.id, request.body))
    await checkOpportunityFields(request, [request.body], () => '')
    if (await dryRun(request, reply, plan)) return reply
    const run = await execute(request, plan)
    if (run.error !== undefined) return sendRun(request, reply, run)
    const result = run.results[0]
    if (result.status === 'skipped') {
      return sendProblem(request, reply, new GatewayError('NOT_FOUND', `opportunity ${request.params.id} does not exist`))
    }
    return reply.code(result.status === 'failed' ? 207 : 200).send(result)
  })

  app.post('/opportunities/roles', {
    schema: {
      tags: ['opportunities'],
      operationId: 'syncOpportunityRoles',
      summary: 'Insert, update or upsert opportunity person roles',
      description: 'Each role names its opportunity and person by id or by external key.',
      body: RolesBody,
      response: syncResponses
    }
  }, async (request, reply) => {
    const plan = toPlan(() => planRoles(request.body))
    if (await dryRun(request, reply, plan)) return reply
    return sendRun(request, reply, await execute(request, plan))
  })

  app.post('/mobjects/sync', {
    schema: {
      tags: ['mobjects'],
      operationId: 'syncMObjects',
      summary: 'Generic MObject sync, one to one with Marketo syncMObjects',
      body: MObjectsSyncBody,
      response: syncResponses
    }
  }, async (request, reply) => {
    const plan = toPlan(() => planMObjects(request.body))
    await checkMObjectFields(request, request.body.mObjects)
    if (await dryRun(request, reply, plan)) return reply
    return sendRun(request, reply, await execute(request, plan))
  })
}

export default writeRoutes
