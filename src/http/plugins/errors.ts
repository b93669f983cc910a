import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { GatewayError, isGatewayError, type FieldError } from '../../domain/errors.js'
import type { ObjectResult, Summary } from '../../domain/results.js'

export const PROBLEM_TYPE_BASE = 'https://marketo-gateway.invalid/problems/'

export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  code: string
  requestId: string
  errors?: FieldError[]
  upstreamCode?: number
  retryAfterMs?: number
  summary?: Summary
  results?: ObjectResult[]
}

export function problemBody (request: FastifyRequest, err: GatewayError, extra: Partial<ProblemBody> = {}): ProblemBody {
  const body: ProblemBody = {
    type: PROBLEM_TYPE_BASE + err.code.toLowerCase().replaceAll('_', '-'),
    title: err.title,
    status: err.statusCode,
    detail: err.message,
    code: err.code,
    requestId: String(request.id)
  }
  if (err.errors !== undefined) body.errors = err.errors
  if (err.upstreamCode !== undefined) body.upstreamCode = err.upstreamCode
  if (err.retryAfterMs !== undefined) body.retryAfterMs = Math.ceil(err.retryAfterMs)
  return { ...body, ...extra }
}

export function sendProblem (request: FastifyRequest, reply: FastifyReply, err: GatewayError, extra: Partial<ProblemBody> = {}): FastifyReply {
  if (err.retryAfterMs !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))))
  if (err.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="marketo-gateway"')
  return reply.code(err.statusCode).type('application/problem+json').send(problemBody(request, err, extra))
}

function validationErrors (err: FastifyError): FieldError[] {
  const context = err.validationContext ?? 'body'
  return (err.validation ?? []).map((v) => {
    let path = v.instancePath
    if (v.keyword === 'additionalProperties') path += '/' + String((v.params as { additionalProperty?: string }).additionalProperty)
    if (v.keyword === 'required') path += '/' + String((v.params as { missingProperty?: string }).missingProperty)
    let message = v.message ?? 'is invalid'
    if (v.keyword === 'pattern' && typeof v.schemaPath === 'string') {
      message = 'contains a character or sequence that is not allowed, or has the wrong format'
    }
    if (v.keyword === 'additionalProperties') message = 'is not a known field'
    return { path: `${context}:${path === '' ? '/' : path}`, message }
  })
}

// Fastify's own errors (parsing, content type, size, validation) become coded problems; anything
// unexpected is masked as a 500 and logged with its context.
export function toProblem (err: FastifyError | Error): GatewayError {
  if (isGatewayError(err)) return err
  const fe = err as FastifyError
  if (fe.validation !== undefined) {
    const errors = validationErrors(fe)
    const first = errors[0]
    return new GatewayError('VALIDATION_FAILED', first === undefined ? 'the request is invalid' : `${first.path.replace(/^\w+:/, '')} ${first.message}`, { errors })
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json')
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('PAYLOAD_TOO_LARGE', 'the request body is larger than the configured limit')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('MALFORMED_JSON', 'the JSON body is empty')
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('MALFORMED_JSON', 'the Content-Length does not match the body')
  }
  if (fe.statusCode === 400 && (err instanceof SyntaxError || /JSON|prototype|constructor/i.test(err.message))) {
    return new GatewayError('MALFORMED_JSON', 'the body is not valid JSON, has duplicate keys or forbidden keys (__proto__, constructor)')
  }
  if (fe.statusCode === 415) return new GatewayError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json')
  if (fe.statusCode === 413) return new GatewayError('PAYLOAD_TOO_LARGE', 'the request body is larger than the configured limit')
  if (fe.statusCode === 404) return new GatewayError('NOT_FOUND', 'no such resource')
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new GatewayError('VALIDATION_FAILED', 'the request is invalid')
  }
  return new GatewayError('INTERNAL', 'an unexpected error occurred', { cause: err })
}

export default fp(async function errorsPlugin (app) {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const problem = toProblem(err)
    if (problem.statusCode >= 500) request.log.error({ err, code: problem.code }, 'request failed')
    else request.log.info({ code: problem.code, detail: problem.message }, 'request rejected')
    return sendProblem(request, reply, problem)
  })
  app.setNotFoundHandler((request, reply) => {
    return sendProblem(request, reply, new GatewayError('NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`))
  })
}, { name: 'errors' })
