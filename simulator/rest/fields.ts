// The REST face's own field table: the REST name, display name, type and length of each store
// field, as Marketo's REST docs print them (adobe-docs-rest/opportunities.md: the Describe
// Opportunity example for the system fields, the Get Opportunity Fields example for name,
// description, type and stage; opportunity-roles.md: the Describe Opportunity Role example). A store field the docs never
// show in a describe is named by Marketo's REST convention (its API name with a lower-case
// first letter; the Query example's "source" is not taken, as no describe lists it).
// Written from the docs, not from the gateway's mapping, so the two can disagree.

export interface RestField {
  /** The store (SOAP describe) name. */
  store: string
  name: string
  displayName: string
  dataType?: string
  length?: number
  /** False for the keys a record is identified by (the docs' updateable: false). */
  updateable: boolean
}

export const OPPORTUNITY_REST_FIELDS: readonly RestField[] = [
  { store: 'Id', name: 'marketoGUID', displayName: 'Marketo GUID', dataType: 'string', length: 36, updateable: false },
  { store: 'CreatedAt', name: 'createdAt', displayName: 'Created At', dataType: 'datetime', updateable: false },
  { store: 'UpdatedAt', name: 'updatedAt', displayName: 'Updated At', dataType: 'datetime', updateable: false },
  // The store field holding the external key is chosen at start (restExternalKeyField).
  { store: '', name: 'externalOpportunityId', displayName: 'External Opportunity Id', dataType: 'string', length: 50, updateable: false },
  { store: 'Name', name: 'name', displayName: 'Name', dataType: 'string', length: 255, updateable: true },
  { store: 'Description', name: 'description', displayName: 'Description', dataType: 'string', length: 2000, updateable: true },
  { store: 'Type', name: 'type', displayName: 'Type', dataType: 'string', length: 255, updateable: true },
  { store: 'Stage', name: 'stage', displayName: 'Stage', dataType: 'string', length: 255, updateable: true },
]

export const ROLE_REST_FIELDS: readonly RestField[] = [
  { store: 'Id', name: 'marketoGUID', displayName: 'Marketo GUID', dataType: 'string', length: 36, updateable: false },
  { store: 'OpportunityId', name: 'externalOpportunityId', displayName: 'External Opportunity Id', dataType: 'string', length: 50, updateable: false },
  { store: 'PersonId', name: 'leadId', displayName: 'Lead Id', dataType: 'integer', updateable: false },
  { store: 'Role', name: 'role', displayName: 'Role', dataType: 'string', length: 50, updateable: false },
  { store: 'IsPrimary', name: 'isPrimary', displayName: 'Is Primary', dataType: 'boolean', updateable: true },
  { store: 'ExternalCreatedDate', name: 'externalCreatedDate', displayName: 'External Created Date', dataType: 'datetime', updateable: true },
  { store: 'CreatedAt', name: 'createdAt', displayName: 'Created At', dataType: 'datetime', updateable: false },
  { store: 'UpdatedAt', name: 'updatedAt', displayName: 'Updated At', dataType: 'datetime', updateable: false }
]

/** REST name of a store field the table does not list: Marketo's camelCase API name. */
export function conventionalName (store: string): string {
  return store.charAt(0).toLowerCase() + store.slice(1)
}
