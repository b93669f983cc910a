import type { GatewayError } from '../domain/errors.js'
import type { Attrib, MObject, MObjStatus, SyncOperation } from '../domain/model.js'
import type { GetMObjectsPage, GetMObjectsQuery, ObjectMetadata } from '../domain/queries.js'
import type { CallHints } from './transport.js'

export type BackendName = 'soap' | 'rest'

/**
 * Exactly one Marketo call, ready to send: what it is (for logs and metrics), whether repeating it
 * changes nothing, how to send it and how to read the answer into the gateway's model. Every
 * attempt of a prepared call is one call against Marketo's limits, so the call gate counts what
 * Marketo counts; a backend that needs two HTTP calls prepares two.
 */
export interface PreparedCall<T> {
  /** getMObjects, describeMObject, deleteMObjects, syncMObjects or the REST endpoint's name. */
  operation: string
  /** Objects the call carries (0 for describe and reads), for metrics. */
  objects: number
  /** Whether the call may be re-sent after an unknown outcome (reads; UPDATE by id). */
  idempotent: boolean
  send: (hints: CallHints) => Promise<unknown>
  /** May throw a GatewayError: an answer that does not match the call (UPSTREAM_PROTOCOL_ERROR). */
  parse: (raw: any) => T
}

/** One call of a sync batch: the objects it carries (by index into the batch), one status each. */
export interface SyncCall extends PreparedCall<MObjStatus[]> {
  indexes: number[]
  objectsSent: MObject[]
}

/** How a backend carries a batch: the calls, in the order they must go out, and statuses decided locally. */
export interface SyncCallPlan {
  calls: SyncCall[]
  local: Map<number, MObjStatus>
}

/** What deleteMObjects names: an id (SOAP), or a marketoGUID or external key (REST). */
export interface DeleteTarget {
  type: string
  id?: number
  marketoGUID?: string
  externalKey?: Attrib
  /** REST: a role by its compound dedupe key (its opportunity's external key, its person, its role). */
  roleKey?: { opportunity: Attrib, personId: number, role: string }
}

/**
 * Everything that differs between Marketo's SOAP and REST APIs, and nothing else: routes, plugins
 * and the executor see only this. Methods that prepare calls throw a GatewayError (400, or 501)
 * before anything is sent when the backend cannot serve the request.
 */
export interface MarketoBackend {
  readonly name: BackendName
  /** Objects per call of a write (SOAP 100, REST 300). */
  readonly maxObjectsPerCall: number
  /**
   * The key this backend's API dedupes a written record on, when two records with one key must
   * not share a call (REST: 1036 "Duplicate object found in input"); absent: any may.
   */
  readonly recordKey?: (o: MObject) => string | undefined
  /**
   * A 400 naming every part of a write that this backend cannot express, for the whole request,
   * before any call; `at(index, path)` turns an object's index and a path inside it into the JSON
   * path of the caller's body.
   */
  checkWrite: (operation: SyncOperation, objects: readonly MObject[], at: (index: number, path: string) => string) => void
  planSync: (operation: SyncOperation, objects: MObject[]) => SyncCallPlan
  /** A dry run's view of the calls for one chunk, secrets redacted. */
  preview: (operation: SyncOperation, objects: MObject[]) => Promise<string>
  /**
   * How many opportunities one getMObjects call may name by external key (`externalKeys`): REST
   * 300 filterValues; SOAP 1 (getMObjects takes one key).
   */
  readonly maxKeysPerRead: number
  getMObjects: (query: GetMObjectsQuery) => PreparedCall<GetMObjectsPage>
  describe: (objectName: string) => PreparedCall<ObjectMetadata>
  /** Objects that may share one delete call have the same group. */
  deleteGroup: (target: DeleteTarget) => string
  /** Objects per delete call. */
  readonly maxDeletesPerCall: number
  deleteMObjects: (targets: readonly DeleteTarget[]) => PreparedCall<MObjStatus[]>
  /** Any failure of a call as a GatewayError: retry class, sent or not, quota, Marketo's code. */
  classify: (err: unknown) => GatewayError
  close: () => void
}
