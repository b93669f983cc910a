import type { Association, Attrib, MObject } from './model.js'

// Typed reads of the gateway's model: what a route asks (a query), and what every backend answers
// (pages of objects, object metadata), whatever API carried it.

export type Comparison = 'EQ' | 'NE' | 'LT' | 'LE' | 'GT' | 'GE'

export interface Criterion {
  attrName: string
  comparison: Comparison
  attrValue: string
}

export interface GetMObjectsQuery {
  type: string
  id?: number
  externalKey?: Attrib
  /** REST backend only: several opportunities by external key (one name) in one call (at most 300). */
  externalKeys?: Attrib[]
  criteria?: Criterion[]
  associations?: Association[]
  includeDetails?: boolean
  streamPosition?: string
  /** REST backend only. */
  marketoGUID?: string
  /** REST backend only: several records by marketoGUID in one call (at most 300). */
  marketoGUIDs?: string[]
  /** Fields to return, beyond the standard ones (REST reads return only the fields asked for). */
  fields?: string[]
  /** Objects per page, where the backend lets the caller choose (REST); SOAP pages hold 100. */
  pageSize?: number
}

/**
 * An MObject as getMObjects returns it; timestamps as ISO 8601 strings. `id` is null for records
 * of the REST backend, which names opportunities and roles by marketoGUID only.
 */
export interface ReadMObject extends Omit<MObject, 'id'> {
  id: number | null
  /**
   * The list that found it answers without some of its details (REST program lists by tag or
   * browsing: no costs): read the object by id before serving it.
   */
  detailsOmitted?: boolean
  createdAt?: string
  updatedAt?: string
}

export interface GetMObjectsPage {
  objects: ReadMObject[]
  /** The most of these objects one page of the gateway serves (each costs the route one more call: REST program lists). */
  servedAtMost?: number
  hasMore: boolean
  newStreamPosition: string
}

export interface FieldMetadata {
  name: string
  dataType: string
  size: number | null
  readOnly: boolean
  custom: boolean
  displayName?: string
  description?: string
}

export interface ObjectMetadata {
  name: string
  fields: FieldMetadata[]
}
