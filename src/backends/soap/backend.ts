import { GatewayError } from '../../domain/errors.js'
import type { MObject, SyncOperation } from '../../domain/model.js'
import { isIdempotentWrite } from '../../domain/model.js'
import type { MarketoBackend } from '../../upstream/backend.js'
import { MarketoSoapClient, parseSyncStatuses, syncMObjectsBody, type SoapClientOptions } from './soap-client.js'
import { deleteMObjectsBody, describeMObjectBody, getMObjectsBody, parseDeleteStatuses, parseDescribe, parseGetMObjects } from './reads.js'
import { toGatewayError } from './faults.js'

const REST_ONLY = 'is a REST identifier: the SOAP backend (MARKETO_BACKEND=soap) names objects by id or externalKey'
const SEVERAL_KEYS = 'is REST-only: SOAP getMObjects looks up one external key per call (send one value per request, or use MARKETO_BACKEND=rest)'

export interface SoapBackendOptions extends SoapClientOptions {
  quotaRetryAfterMs: number
}

/** Marketo's SOAP API (mktows 2.3) through strong-soap: the default backend. */
export async function createSoapBackend (opts: SoapBackendOptions): Promise<MarketoBackend & { client: MarketoSoapClient }> {
  const client = await MarketoSoapClient.create(opts)
  return {
    name: 'soap',
    client,
    maxObjectsPerCall: 100,
    maxDeletesPerCall: 100,
    maxKeysPerRead: 1,

    checkWrite (_operation, objects, at) {
      const errors = objects.flatMap((o, i) => [
        ...(o.marketoGUID === undefined ? [] : [{ path: at(i, '/marketoGUID'), message: 'marketoGUID is a REST identifier: the SOAP backend (MARKETO_BACKEND=soap) names opportunities by id or externalKey' }]),
        // syncMObjects adds and updates cost lines (by id) but cannot remove one.
        ...(o.replaceCosts !== true ? [] : [{ path: at(i, '/replace'), message: 'replacing all cost lines is REST-only (costsDestructiveUpdate, MARKETO_BACKEND=rest): the SOAP API cannot remove a cost line; update lines by id instead' }])
      ])
      if (errors.length > 0) throw new GatewayError('VALIDATION_FAILED', `${errors[0].path} ${errors[0].message}`, { errors })
    },

    // A batch is one syncMObjects call: Marketo applies it as a whole or rejects it with a fault.
    planSync (operation: SyncOperation, objects: MObject[]) {
      return {
        local: new Map(),
        calls: [{
          operation,
          objects: objects.length,
          idempotent: isIdempotentWrite(operation, objects),
          indexes: objects.map((_, i) => i),
          objectsSent: objects,
          send: (hints) => client.invoke('syncMObjects', syncMObjectsBody(operation, objects), hints),
          parse: parseSyncStatuses
        }]
      }
    },

    preview: (operation, objects) => client.buildEnvelope('syncMObjects', syncMObjectsBody(operation, objects)),

    getMObjects (query) {
      if (query.marketoGUID !== undefined || query.marketoGUIDs !== undefined) throw new GatewayError('VALIDATION_FAILED', `marketoGUID ${REST_ONLY}`, { errors: [{ path: 'querystring:/marketoGUID', message: REST_ONLY }] })
      if ((query.associations ?? []).filter((a) => a.mObjType === 'Opportunity' && a.externalKey !== undefined).length > 1) {
        throw new GatewayError('VALIDATION_FAILED', `several opportunity.externalKey.value ${SEVERAL_KEYS}`, { errors: [{ path: 'querystring:/opportunity.externalKey.value', message: SEVERAL_KEYS }] })
      }
      if (query.externalKeys !== undefined) throw new GatewayError('VALIDATION_FAILED', `several externalKey.value ${SEVERAL_KEYS}`, { errors: [{ path: 'querystring:/externalKey.value', message: SEVERAL_KEYS }] })
      return { operation: 'getMObjects', objects: 0, idempotent: true, send: (hints) => client.invoke('getMObjects', getMObjectsBody(query), hints), parse: parseGetMObjects }
    },

    describe (objectName) {
      return { operation: 'describeMObject', objects: 0, idempotent: true, send: (hints) => client.invoke('describeMObject', describeMObjectBody(objectName), hints), parse: parseDescribe }
    },

    deleteGroup: () => '',

    deleteMObjects (objects) {
      const ids = objects.map((o, i) => {
        if (o.id === undefined) throw new GatewayError('VALIDATION_FAILED', `object ${i}: the SOAP backend deletes by id only`, { errors: [{ path: `/objects/${i}`, message: 'needs id: the SOAP backend deletes by id (marketoGUID and externalKey deletes are for MARKETO_BACKEND=rest)' }] })
        return { type: o.type, id: o.id }
      })
      return { operation: 'deleteMObjects', objects: objects.length, idempotent: false, send: (hints) => client.invoke('deleteMObjects', deleteMObjectsBody(ids), hints), parse: parseDeleteStatuses }
    },

    classify: (err) => toGatewayError(err, { quotaRetryAfterMs: opts.quotaRetryAfterMs }),
    close: () => client.close()
  }
}
