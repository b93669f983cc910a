// The JSON <-> Marketo field tables: writes use them for names and attrib order, reads for types.

export type FieldKind = 'string' | 'number' | 'integer' | 'boolean' | 'date'

export interface FieldSpec<K extends string = string> {
  key: K
  marketo: string
  kind: FieldKind
}

/** Opportunity standard fields (CONTRACT.md §5), in the order their attribs are written. */
export const OPPORTUNITY_FIELDS = [
  { key: 'name', marketo: 'Name', kind: 'string' },
  { key: 'description', marketo: 'Description', kind: 'string' },
  { key: 'amount', marketo: 'Amount', kind: 'number' },
  { key: 'expectedRevenue', marketo: 'ExpectedRevenue', kind: 'number' },
  { key: 'probability', marketo: 'Probability', kind: 'number' },
  { key: 'quantity', marketo: 'Quantity', kind: 'number' },
  { key: 'closeDate', marketo: 'CloseDate', kind: 'date' },
  { key: 'externalCreatedDate', marketo: 'ExternalCreatedDate', kind: 'date' },
  { key: 'lastActivityDate', marketo: 'LastActivityDate', kind: 'date' },
  { key: 'fiscal', marketo: 'Fiscal', kind: 'string' },
  { key: 'fiscalQuarter', marketo: 'FiscalQuarter', kind: 'integer' },
  { key: 'fiscalYear', marketo: 'FiscalYear', kind: 'integer' },
  { key: 'forecastCategoryName', marketo: 'ForecastCategoryName', kind: 'string' },
  { key: 'leadSource', marketo: 'LeadSource', kind: 'string' },
  { key: 'nextStep', marketo: 'NextStep', kind: 'string' },
  { key: 'stage', marketo: 'Stage', kind: 'string' },
  { key: 'type', marketo: 'Type', kind: 'string' },
  { key: 'isClosed', marketo: 'IsClosed', kind: 'boolean' },
  { key: 'isWon', marketo: 'IsWon', kind: 'boolean' }
] as const satisfies readonly FieldSpec[]

export type OpportunityFieldKey = typeof OPPORTUNITY_FIELDS[number]['key']

/**
 * Names a custom field may not take: the standard fields, and the system ones Marketo sets itself.
 * The schema refuses exact matches; the mapper also refuses case variants (`name`, `AMOUNT`).
 */
export const OPPORTUNITY_RESERVED_NAMES: readonly string[] = [
  ...OPPORTUNITY_FIELDS.map(f => f.marketo),
  'Id',
  'CreatedAt',
  'UpdatedAt'
]

/** OpportunityPersonRole fields, in attrib order (the syncMObjects example order). */
export const ROLE_FIELDS = [
  { key: 'opportunityId', marketo: 'OpportunityId', kind: 'integer' },
  { key: 'personId', marketo: 'PersonId', kind: 'integer' },
  { key: 'role', marketo: 'Role', kind: 'string' },
  { key: 'isPrimary', marketo: 'IsPrimary', kind: 'boolean' },
  { key: 'externalCreatedDate', marketo: 'ExternalCreatedDate', kind: 'date' }
] as const satisfies readonly FieldSpec[]

/** Program cost typeAttrib (attrType `Cost`). */
export const COST_FIELDS = [
  { key: 'month', marketo: 'Month', kind: 'string' },
  { key: 'amount', marketo: 'Amount', kind: 'number' },
  { key: 'id', marketo: 'Id', kind: 'integer' },
  { key: 'note', marketo: 'Note', kind: 'string' }
] as const satisfies readonly FieldSpec[]

/** Program tag/channel typeAttrib (attrType `Tag`). */
export const TAG_FIELDS = [
  { key: 'type', marketo: 'Type', kind: 'string' },
  { key: 'value', marketo: 'Value', kind: 'string' }
] as const satisfies readonly FieldSpec[]
