import { GatewayError } from '../domain/errors.js'
import type { MObjStatus } from '../domain/model.js'
import type { GetMObjectsPage, GetMObjectsQuery, ObjectMetadata } from '../domain/queries.js'
import type { DeleteTarget, MarketoBackend, PreparedCall } from './backend.js'
import type { CallExecutor, CallLog } from './executor.js'

/**
 * getMObjects, describeMObject and deleteMObjects of the active backend, through the same call
 * executor as every write: one admission, one retry budget, one set of call metrics. Reads may be
 * re-sent after an unknown outcome; deletes may not.
 */
export class Reader {
  constructor (private readonly backend: MarketoBackend, private readonly calls: CallExecutor) {}

  getMObjects (query: GetMObjectsQuery, deadline: number, log: CallLog): Promise<GetMObjectsPage> {
    return this.calls.execute(this.backend.getMObjects(query), deadline, log)
  }

  describe (objectName: string, deadline: number, log: CallLog): Promise<ObjectMetadata> {
    return this.calls.execute(this.backend.describe(objectName), deadline, log)
  }

  /** Objects that may share one delete call have the same group (the backend decides). */
  deleteGroup (o: DeleteTarget): string {
    return this.backend.deleteGroup(o)
  }

  get maxDeletesPerCall (): number { return this.backend.maxDeletesPerCall }

  /** Opportunities one getMObjects may name by external key (REST 300, SOAP 1). */
  get maxKeysPerRead (): number { return this.backend.maxKeysPerRead }

  /** The delete call for these objects, or a 400 thrown when the backend cannot express it. */
  prepareDelete (objects: readonly DeleteTarget[]): PreparedCall<MObjStatus[]> {
    return this.backend.deleteMObjects(objects)
  }

  /**
   * Not retried after an unknown outcome: a repeated delete answers UNCHANGED, which would hide
   * that the first one deleted the object. Statuses are checked against the ids sent.
   */
  async deleteMObjects (objects: readonly DeleteTarget[], deadline: number, log: CallLog, prepared: PreparedCall<MObjStatus[]> = this.prepareDelete(objects)): Promise<MObjStatus[]> {
    const statuses = await this.calls.execute({ ...prepared, idempotent: false }, deadline, log)
    const mismatch = statuses.length !== objects.length
      ? `expected ${objects.length} statuses, got ${statuses.length}`
      : statuses.findIndex((s, i) => s.id !== null && objects[i].id !== undefined && s.id !== objects[i].id) >= 0 ? 'a status names another id than the object sent' : undefined
    if (mismatch !== undefined) {
      log.warn({ sentObjects: objects.length, statusCount: statuses.length }, `untrustworthy Marketo answer: ${mismatch}`)
      throw new GatewayError('UPSTREAM_PROTOCOL_ERROR', `Marketo's answer does not match the objects sent (${mismatch})`, { sent: true })
    }
    return statuses
  }
}
