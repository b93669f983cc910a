import { Type, type TSchema } from '@sinclair/typebox'
import type { FastifySchemaCompiler } from 'fastify'
import type { MObject, SyncOperation } from '../domain/model.js'
import { GatewayError, type FieldError } from '../domain/errors.js'
import { Id, sharedSchemas } from '../http/schemas/common.js'
import { OpportunityInput } from '../http/schemas/opportunities.js'
import { RoleInput } from '../http/schemas/roles.js'
import { ProgramCostsBody, ProgramTagsBody } from '../http/schemas/programs.js'
import { MObjectInput } from '../http/schemas/mobjects.js'
import { createValidatorCompiler } from '../http/plugins/validation.js'
import { MappingError } from '../http/mapping/mapping-error.js'
import { planOpportunities } from '../http/mapping/opportunities.js'
import { planRoles } from '../http/mapping/roles.js'
import { planProgramCosts, planProgramTags } from '../http/mapping/programs.js'
import { planMObjects } from '../http/mapping/mobjects.js'
import { parseJsonBody } from '../http/plugins/json-parser.js'
import { describedFields, type NamedField } from '../upstream/describe-cache.js'

export const JOB_KINDS = ['opportunities', 'roles', 'programCosts', 'programTags', 'mobjects'] as const
export type JobKind = typeof JOB_KINDS[number]

/**
 * One element of a job, per kind: exactly one element of the matching sync route's array
 * (opportunities, roles, mObjects); the program routes carry one program per request, so their
 * element is the route's path id and body together.
 */
export const ProgramCostsItem = Type.Object({
  programId: Id({ description: 'Marketo program id' }),
  costs: ProgramCostsBody.properties.costs
}, { additionalProperties: false, description: 'One program and its costs: POST /programs/{programId}/costs as one object' })

export const ProgramTagsItem = Type.Object({
  programId: Id({ description: 'Marketo program id' }),
  tags: ProgramTagsBody.properties.tags
}, { additionalProperties: false, description: 'One program and its tags: POST /programs/{programId}/tags as one object' })

export const ITEM_SCHEMAS: Record<JobKind, TSchema> = {
  opportunities: OpportunityInput,
  roles: RoleInput,
  programCosts: ProgramCostsItem,
  programTags: ProgramTagsItem,
  mobjects: MObjectInput
}

/** Operations each kind accepts, and its default (the sync route's). */
export const KIND_OPERATIONS: Record<JobKind, { allowed: readonly string[], default?: string }> = {
  opportunities: { allowed: ['insert', 'update', 'upsert'], default: 'upsert' },
  roles: { allowed: ['insert', 'update', 'upsert'], default: 'insert' },
  programCosts: { allowed: ['update'], default: 'update' },
  programTags: { allowed: ['update'], default: 'update' },
  mobjects: { allowed: ['insert', 'update', 'upsert'] }
}

export function resolveOperation (kind: JobKind, given: string | undefined): SyncOperation {
  const rule = KIND_OPERATIONS[kind]
  const op = given?.toLowerCase() ?? rule.default
  if (op === undefined) throw invalid('operation', `is required for kind ${kind} (one of ${rule.allowed.join(', ')})`)
  if (!rule.allowed.includes(op)) throw invalid('operation', `must be one of ${rule.allowed.join(', ')} for kind ${kind}`)
  return op.toUpperCase() as SyncOperation
}

function invalid (path: string, message: string): GatewayError {
  return new GatewayError('VALIDATION_FAILED', `${path} ${message}`, { errors: [{ path, message }] })
}

type Validator = ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string, keyword: string, params: Record<string, unknown>, message?: string }> | null }

/** Where an element sits in the caller's input: `line 7` (NDJSON) or `/objects/6` (JSON). */
export type Where = (index: number) => string

export const ndjsonWhere: Where = (index) => `line ${index + 1}`
export const jsonWhere: Where = (index) => `/objects/${index}`

/**
 * Validates and maps one element at a time with the sync routes' own schemas (the same strict,
 * non-coercing compiler) and mappers, so a job accepts exactly what the routes accept.
 */
export class ItemMapper {
  private readonly validate: Validator
  readonly operation: SyncOperation

  constructor (readonly kind: JobKind, operation: string | undefined, private readonly where: Where) {
    this.operation = resolveOperation(kind, operation)
    const compile = createValidatorCompiler(sharedSchemas) as FastifySchemaCompiler<TSchema>
    this.validate = compile({ schema: ITEM_SCHEMAS[kind], httpPart: 'body', method: 'POST', url: '/jobs' }) as unknown as Validator
  }

  /** Parses one NDJSON line with the gateway's JSON checks (duplicate keys, `__proto__`, `$xml`, depth). */
  parseLine (index: number, line: string): unknown {
    try {
      return parseJsonBody(line)
    } catch (err) {
      if (err instanceof GatewayError) throw this.relocate(index, err)
      throw err
    }
  }

  map (index: number, item: unknown): MObject {
    if (!this.validate(item)) {
      const e = (this.validate.errors ?? [])[0]
      let path = e?.instancePath ?? ''
      if (e?.keyword === 'additionalProperties') path += '/' + String(e.params.additionalProperty)
      if (e?.keyword === 'required') path += '/' + String(e.params.missingProperty)
      const message = e?.keyword === 'additionalProperties' ? 'is not a known field' : e?.keyword === 'pattern' ? 'contains a character or sequence that is not allowed, or has the wrong format' : (e?.message ?? 'is invalid')
      throw this.fail(index, path, message)
    }
    try {
      return this.plan(item)
    } catch (err) {
      if (err instanceof MappingError) {
        const inner = err.path.replace(/^\/[A-Za-z]+\/0/, '')
        throw this.fail(index, inner, err.message.slice(err.path.length + 1))
      }
      throw err
    }
  }

  private plan (item: any): MObject {
    const op = this.operation.toLowerCase() as 'insert' | 'update' | 'upsert'
    switch (this.kind) {
      case 'opportunities': return planOpportunities({ operation: op, opportunities: [item] }).objects[0]
      case 'roles': return planRoles({ operation: op, roles: [item] }).objects[0]
      case 'programCosts': return planProgramCosts(item.programId, { costs: item.costs }).objects[0]
      case 'programTags': return planProgramTags(item.programId, { tags: item.tags }).objects[0]
      case 'mobjects': return planMObjects({ operation: this.operation, mObjects: [item] }).objects[0]
    }
  }

  fail (index: number, path: string, message: string): GatewayError {
    const full = this.at(index, path)
    return new GatewayError('VALIDATION_FAILED', `${full} ${message}`, { errors: [{ path: full, message }] })
  }

  /** The field names of a valid element that only the describe can check, as the sync routes check them. */
  describedFields (index: number, item: unknown): NamedField[] {
    if (this.kind !== 'opportunities' && this.kind !== 'mobjects') return []
    const at = this.where(index)
    return describedFields(item as object, at.startsWith('/') ? at : `${at}: `)
  }

  private at (index: number, path: string): string {
    const at = this.where(index)
    return at.startsWith('/') ? `${at}${path}` : `${at}: ${path === '' ? '/' : path}`
  }

  /** A 400 about one element (a JSON problem or a backend refusal) named by its line or index. */
  relocate (index: number, err: GatewayError): GatewayError {
    const at = this.where(index)
    const errors: FieldError[] | undefined = err.errors?.map((e) => ({ path: `${at}: ${e.path.replace(/^body:/, '')}`, message: e.message }))
    return new GatewayError(err.code, `${at}: ${err.message}`, { errors })
  }
}

/**
 * Splits a byte stream into lines without ever holding more than one line (and one read) in
 * memory; CRLF is accepted. Bounded: a line longer than maxLineBytes or a body longer than
 * maxBytes throws a 400/413 naming the line.
 */
export async function * ndjsonLines (stream: AsyncIterable<Buffer | string>, opts: { maxLineBytes: number, maxBytes: number, onBytes?: (chunk: Buffer) => void }): AsyncGenerator<{ index: number, text: string }> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  let total = 0
  let index = 0
  const tooLong = (): GatewayError => new GatewayError('VALIDATION_FAILED', `line ${index + 1} is longer than ${opts.maxLineBytes} bytes`, { errors: [{ path: `line ${index + 1}`, message: `is longer than ${opts.maxLineBytes} bytes` }] })
  for await (const piece of stream) {
    const buf = typeof piece === 'string' ? Buffer.from(piece) : piece
    total += buf.length
    if (total > opts.maxBytes) throw new GatewayError('PAYLOAD_TOO_LARGE', `the body is larger than ${opts.maxBytes} bytes (JOB_MAX_BODY_BYTES)`)
    opts.onBytes?.(buf)
    let start = 0
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a, start)) {
      const part = buf.subarray(start, nl)
      if (pendingBytes + part.length > opts.maxLineBytes) throw tooLong()
      const line = pending.length === 0 ? part : Buffer.concat([...pending, part])
      pending = []
      pendingBytes = 0
      start = nl + 1
      yield { index, text: decodeLine(line) }
      index++
    }
    if (start < buf.length) {
      const rest = buf.subarray(start)
      pendingBytes += rest.length
      if (pendingBytes > opts.maxLineBytes) throw tooLong()
      // A copy: the stream may reuse its buffer.
      pending.push(Buffer.from(rest))
    }
  }
  if (pendingBytes > 0) yield { index, text: decodeLine(Buffer.concat(pending)) }
}

function decodeLine (line: Buffer): string {
  const end = line.length > 0 && line[line.length - 1] === 0x0d ? line.length - 1 : line.length
  return line.toString('utf8', 0, end)
}
