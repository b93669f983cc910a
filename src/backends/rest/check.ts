import { GatewayError } from '../../domain/errors.js'
import type { MObject, SyncOperation } from '../soap/types.js'
import type { MarketoRestClient } from './client.js'

const ITEM_PREFIX: Record<string, string> = {
  '/opportunities': '/opportunities',
  '/opportunities/roles': '/roles',
  '/mobjects/sync': '/mObjects'
}

/**
 * On the REST backend: a 400 naming every part of the request that REST cannot honour (integer
 * opportunity ids, cost ids, ...), before anything is sent. On the SOAP backend: a 400 for
 * REST-only identifiers (marketoGUID). Never a silent change of meaning.
 */
export function checkPlanForBackend (rest: MarketoRestClient | undefined, plan: { operation: SyncOperation, objects: MObject[] }, route: string): void {
  const prefix = ITEM_PREFIX[route]
  const at = (index: number, path: string): string => prefix === undefined ? path : `${prefix}/${index}${path}`
  if (rest === undefined) {
    const errors = plan.objects.flatMap((o, i) => o.marketoGUID === undefined ? [] : [{ path: at(i, '/marketoGUID'), message: 'marketoGUID is a REST identifier: the SOAP backend (MARKETO_BACKEND=soap) names opportunities by id or externalKey' }])
    if (errors.length > 0) throw new GatewayError('VALIDATION_FAILED', `${errors[0].path} ${errors[0].message}`, { errors })
    return
  }
  const problems = rest.problems(plan.operation, plan.objects)
  if (problems.length === 0) return
  const errors = problems.slice(0, 100).map((p) => ({ path: at(p.index, p.path), message: p.message }))
  throw new GatewayError('VALIDATION_FAILED', `${REST_UNSUPPORTED}: ${errors[0].path || '/'} ${errors[0].message}`, { errors })
}

/** How every 400 for what the REST API cannot express begins. */
export const REST_UNSUPPORTED = 'not supported by the REST backend (MARKETO_BACKEND=rest)'
