import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { fromMarketoValue, toMarketoValue } from '../../src/http/mapping/values.js'
import { COST_FIELDS, OPPORTUNITY_FIELDS, OPPORTUNITY_RESERVED_NAMES, ROLE_FIELDS, TAG_FIELDS } from '../../src/domain/fields.js'
import { OpportunityPatchBody } from '../../src/http/schemas/opportunities.js'
import { RoleInput } from '../../src/http/schemas/roles.js'
import { ProgramCost, ProgramTag } from '../../src/http/schemas/programs.js'

describe('toMarketoValue', () => {
  const table: Array<[string | number | boolean, string]> = [
    ['Q1 2014', 'Q1 2014'],
    ['', ''],
    ['a\tb\r\nc', 'a\tb\r\nc'],
    [true, '1'],
    [false, '0'],
    [2000, '2000'],
    [0.1, '0.1'],
    [-0, '0'],
    [-12.5, '-12.5'],
    [1e15, '1000000000000000'],
    [1e21, '1000000000000000000000'],
    [1.5e22, '15000000000000000000000'],
    [1e-7, '0.0000001'],
    [-1.25e-8, '-0.0000000125'],
    [123e-20, '0.00000000000000000123']
  ]
  for (const [input, expected] of table) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => assert.equal(toMarketoValue(input), expected))
  }

  it('refuses NaN and Infinity', () => {
    assert.throws(() => toMarketoValue(Number.NaN), RangeError)
    assert.throws(() => toMarketoValue(Infinity), RangeError)
  })

  it('writes every finite number as a plain decimal that parses back to it', () => {
    fc.assert(fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), n => {
      const s = toMarketoValue(n)
      assert.match(s, /^-?\d+(\.\d+)?$/)
      assert.equal(Number(s), n === 0 ? 0 : n)
    }), { numRuns: 2_000 })
  })
})

describe('fromMarketoValue', () => {
  const table: Array<[string, Parameters<typeof fromMarketoValue>[1], unknown]> = [
    ['Q1 2014', 'string', 'Q1 2014'],
    ['', 'string', ''],
    [' a ', 'string', ' a '],
    ['2000', 'number', 2000],
    ['0.1', 'number', 0.1],
    ['', 'number', null],
    ['4', 'integer', 4],
    ['1', 'boolean', true],
    ['0', 'boolean', false],
    ['true', 'boolean', true],
    ['FALSE', 'boolean', false],
    ['', 'boolean', null],
    ['2014-03-31', 'date', '2014-03-31'],
    ['2014-03-31T00:00:00Z', 'date', '2014-03-31'],
    ['', 'date', null]
  ]
  for (const [value, kind, expected] of table) {
    it(`${JSON.stringify(value)} as ${kind} → ${JSON.stringify(expected)}`, () => assert.equal(fromMarketoValue(value, kind), expected))
  }

  const bad: Array<[string, Parameters<typeof fromMarketoValue>[1]]> = [['abc', 'number'], ['1.5', 'integer'], ['yes', 'boolean'], ['31/03/2014', 'date']]
  for (const [value, kind] of bad) {
    it(`refuses ${JSON.stringify(value)} as ${kind}`, () => assert.throws(() => fromMarketoValue(value, kind), RangeError))
  }

  it('reads back what it writes, for every kind', () => {
    for (const [v, kind] of [[12.5, 'number'], [3, 'integer'], [true, 'boolean'], [false, 'boolean'], ['2024-02-29', 'date'], ['x\ny', 'string']] as const) {
      assert.equal(fromMarketoValue(toMarketoValue(v), kind), v)
    }
  })
})

describe('field tables', () => {
  const keys = (schema: { properties: object }) => Object.keys(schema.properties)

  it('OPPORTUNITY_FIELDS lists the patch schema\'s standard fields in the same order', () => {
    assert.deepEqual(OPPORTUNITY_FIELDS.map(f => f.key), keys(OpportunityPatchBody).filter(k => k !== 'customFields' && k !== 'company'))
  })

  it('OPPORTUNITY_FIELDS names the 19 documented Marketo fields', () => {
    assert.deepEqual(OPPORTUNITY_FIELDS.map(f => f.marketo).sort(), [
      'Amount', 'CloseDate', 'Description', 'ExpectedRevenue', 'ExternalCreatedDate', 'Fiscal', 'FiscalQuarter', 'FiscalYear',
      'ForecastCategoryName', 'IsClosed', 'IsWon', 'LastActivityDate', 'LeadSource', 'Name', 'NextStep', 'Probability', 'Quantity', 'Stage', 'Type'
    ])
    assert.deepEqual(OPPORTUNITY_RESERVED_NAMES.slice(-3), ['Id', 'CreatedAt', 'UpdatedAt'])
  })

  it('ROLE_FIELDS, COST_FIELDS and TAG_FIELDS cover their schemas', () => {
    assert.deepEqual(ROLE_FIELDS.map(f => f.key), keys(RoleInput).filter(k => k !== 'opportunity' && k !== 'person'))
    assert.deepEqual(COST_FIELDS.map(f => f.key), keys(ProgramCost))
    assert.deepEqual(TAG_FIELDS.map(f => f.key), keys(ProgramTag))
  })
})
