import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Ajv, type AnySchema } from 'ajv'
import addFormats from 'ajv-formats'
import { Type } from '@sinclair/typebox'
import {
  DateString, ExternalKey, FieldMap, Id, INSTANT_FORMAT, InstantString, MonthString, ObjectResult, ProblemDetails, SafeString, SyncResult,
  SAFE_STRING_PATTERN, sharedSchemas
} from '../../src/http/schemas/common.js'
import { ProgramCostsBody, ProgramParams, ProgramTagsBody } from '../../src/http/schemas/programs.js'
import { OpportunitiesBody, OpportunityParams, OpportunityPatchBody } from '../../src/http/schemas/opportunities.js'
import { RolesBody } from '../../src/http/schemas/roles.js'
import { MObjectsSyncBody } from '../../src/http/schemas/mobjects.js'
import { createValidatorCompiler } from '../../src/http/plugins/validation.js'

function contractAjv (options: { coerceTypes?: boolean, strict?: boolean | undefined, logger?: false | { log: (...a: unknown[]) => void, warn: (...a: unknown[]) => void, error: (...a: unknown[]) => void } } = {}) {
  const ajv = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false, ...options })
  addFormats.default(ajv)
  for (const schema of sharedSchemas) ajv.addSchema(schema)
  return ajv
}

const ajv = contractAjv()
const check = (schema: AnySchema, data: unknown) => ajv.validate(schema, data)

const routeSchemas = [ProgramParams, ProgramCostsBody, ProgramTagsBody, OpportunityParams, OpportunitiesBody, OpportunityPatchBody, RolesBody, MObjectsSyncBody]
const bodySchemas = [ProgramCostsBody, ProgramTagsBody, OpportunitiesBody, OpportunityPatchBody, RolesBody, MObjectsSyncBody]

describe('SafeString', () => {
  const S = Type.Object({ s: SafeString({ maxLength: 255 }) })
  const table: Array<[string, string, boolean]> = [
    ['plain', 'Q1 2014', true],
    ['empty', '', true],
    ['tab', 'a\tb', true],
    ['LF', 'line 1\nline 2', true],
    ['CR', 'a\r\nb', true],
    ['emoji (astral)', 'deal 🚀🎉', true],
    ['RTL and combining marks', 'שלום e\u0301', true],
    ['U+2028, BOM, DEL, C1', '\u2028\uFEFF\u007F\u0085', true],
    ['XML specials', '< & > " \' ]]> </value><value> &lt; <?xml version="1.0"?>', true],
    ['CDATA-like but not CDATA', '<![CDATA', true],
    ['\\u0000', 'a\u0000b', false],
    ['\\u0001', '\u0001', false],
    ['\\u0008', 'x\u0008', false],
    ['\\u000B', '\u000B', false],
    ['\\u000C', '\u000C', false],
    ['\\u001F', 'a\u001F', false],
    ['\\uFFFE', '\uFFFE', false],
    ['\\uFFFF', 'x\uFFFF', false],
    ['lone high surrogate', 'a\uD800b', false],
    ['lone low surrogate', '\uDC00', false],
    ['reversed pair', '\uDE00\uD83D', false],
    ['CDATA', 'a]]>b<![CDATA[c', false],
    ['CDATA at start', '<![CDATA[x]]>', false]
  ]
  for (const [name, s, ok] of table) {
    it(`${ok ? 'accepts' : 'rejects'} ${name}`, () => {
      assert.equal(check(S, { s }), ok)
      if (!ok) assert.equal(ajv.errors?.[0].instancePath, '/s')
    })
  }

  it('counts maxLength in code points: 255 emoji fit, 256 do not', () => {
    assert.equal(check(S, { s: '😀'.repeat(255) }), true)
    assert.equal(check(S, { s: '😀'.repeat(256) }), false)
  })

  it('rejects a 900 KB string quickly on maxLength', () => {
    const start = performance.now()
    assert.equal(check(S, { s: 'x'.repeat(900_000) }), false)
    assert.equal(ajv.errors?.[0].keyword, 'maxLength')
    assert.ok(performance.now() - start < 50)
  })

  it('rejects non-strings (no coercion)', () => {
    assert.equal(check(S, { s: 123 }), false)
  })

  it('exports the pattern ajv uses', () => {
    assert.equal(SafeString({ maxLength: 1 }).pattern, SAFE_STRING_PATTERN)
  })
})

describe('Id', () => {
  const S = Type.Object({ id: Id() })
  const table: Array<[unknown, boolean]> = [
    [1, true], [2_147_483_647, true], [0, false], [-1, false], [2_147_483_648, false], [1.5, false], ['1', false], [null, false]
  ]
  for (const [id, ok] of table) {
    it(`${ok ? 'accepts' : 'rejects'} ${JSON.stringify(id)}`, () => assert.equal(check(S, { id }), ok))
  }

  describe('as a path parameter (the gateway\'s validator converts canonical decimal only)', () => {
    const compile = createValidatorCompiler(sharedSchemas)
    const params = compile({ schema: ProgramParams, httpPart: 'params', method: 'POST', url: '/programs/:programId/costs' }) as unknown as { (data: unknown): boolean, errors?: Array<{ instancePath: string }> | null }
    const opportunity = compile({ schema: OpportunityParams, httpPart: 'params', method: 'GET', url: '/opportunities/:id' }) as unknown as typeof params
    const table: Array<[string, boolean]> = [
      ['1970', true], ['2147483647', true], ['1', true], ['abc', false], ['0', false], ['-1', false], ['2147483648', false], ['1.5', false], ['', false],
      ['0x40', false], ['1e1', false], [' 64', false], ['64 ', false], ['+1', false], ['01', false], ['1.0', false], ['0b1', false], ['0o7', false], ['-0', false]
    ]
    for (const [programId, ok] of table) {
      it(`${ok ? 'accepts' : 'rejects'} /programs/${programId}/costs`, () => {
        const data: Record<string, unknown> = { programId }
        assert.equal(params(data), ok)
        if (ok) assert.equal(data.programId, Number(programId))
        else assert.equal(params.errors?.[0].instancePath, '/programId')
      })
    }
    it('rejects unknown params', () => {
      assert.equal(params({ programId: '1', x: '1' }), false)
    })
    it('names the opportunity id', () => {
      assert.equal(opportunity({ id: '0' }), false)
      assert.equal(opportunity.errors?.[0].instancePath, '/id')
      assert.equal(opportunity({ id: '0x40' }), false)
      assert.equal(opportunity.errors?.[0].instancePath, '/id')
    })
  })
})

describe('DateString and MonthString', () => {
  const D = Type.Object({ d: DateString() })
  const M = Type.Object({ m: MonthString() })
  const dates: Array<[string, boolean]> = [
    ['2014-03-31', true], ['2024-02-29', true], ['2024-02-30', false], ['2023-02-29', false], ['2014-04-31', false],
    ['2024-2-3', false], ['2024-13-01', false], ['2024-01-01T00:00:00Z', false], ['20240101', false], [' 2024-01-01', false]
  ]
  for (const [d, ok] of dates) {
    it(`date ${JSON.stringify(d)} ${ok ? 'accepted' : 'rejected'}`, () => assert.equal(check(D, { d }), ok))
  }
  const months: Array<[string, boolean]> = [['2013-06', true], ['2013-12', true], ['2013-13', false], ['2013-6', false], ['2013-00', false], ['2013-06-01', false]]
  for (const [m, ok] of months) {
    it(`month ${JSON.stringify(m)} ${ok ? 'accepted' : 'rejected'}`, () => assert.equal(check(M, { m }), ok))
  }
})

describe('InstantString (read date filters, issue #12 defect 6)', () => {
  const compile = createValidatorCompiler(sharedSchemas)
  const query = compile({ schema: Type.Object({ t: InstantString() }), httpPart: 'querystring', method: 'GET', url: '/x' }) as unknown as (data: unknown) => boolean
  const table: Array<[string, boolean]> = [
    ['2013-07-02', true], ['2012-02-29', true], ['2000-02-29', true], ['2013-07-02T00:00Z', true], ['2013-07-02T23:59:59Z', true],
    ['2013-07-02T14:00:00+02:00', true], ['2013-07-02T12:30:15.123456789-05:00', true], ['2013-07-02T12:00+23:59', true],
    ['2013-02-30', false], ['2013-02-29', false], ['1900-02-29', false], ['2013-04-31', false], ['2013-13-01', false], ['2013-00-01', false], ['2013-01-00', false],
    ['2013-07-02T24:00Z', false], ['2013-07-02T24:00:00Z', false], ['2013-07-02T23:60Z', false], ['2013-07-02T12:00:60Z', false],
    ['2013-07-02T12:00+24:00', false], ['2013-07-02T12:00+05:60', false], ['2013-02-30T12:00:00Z', false], ['2013-07-02T12:00', false], ['yesterday', false]
  ]
  for (const [t, ok] of table) {
    it(`${ok ? 'accepts' : 'rejects'} ${t}`, () => {
      assert.equal(INSTANT_FORMAT.validate(t), ok)
      assert.equal(query({ t }), ok)
    })
  }
  it('uses the same calendar check as DateString', () => {
    for (const d of ['2024-02-29', '2024-02-30', '2023-02-29', '2014-04-31', '2014-03-31']) assert.equal(INSTANT_FORMAT.validate(d), check(Type.Object({ d: DateString() }), { d }))
  })
})

describe('FieldMap and ExternalKey', () => {
  const F = Type.Object({ f: FieldMap({ reserved: ['Name'] }) })
  const table: Array<[string, unknown, boolean]> = [
    ['string, number and boolean values', { Region__c: 'EMEA', Score: 1.5, Flag: false }, true],
    ['80-character name', { ['A'.repeat(80)]: 1 }, true],
    ['81-character name', { ['A'.repeat(81)]: 1 }, false],
    ['$xml', JSON.parse('{"$xml":"<x/>"}'), false],
    ['$attributes', { $attributes: 'x' }, false],
    ['$value', { $value: 'x' }, false],
    ['__proto__', JSON.parse('{"__proto__":{"polluted":1}}'), false],
    ['leading digit', { '1abc': 1 }, false],
    ['leading underscore', { _a: 1 }, false],
    ['dash', { 'a-b': 1 }, false],
    ['reserved standard name', { Name: 'x' }, false],
    ['empty map', {}, false],
    ['object value', { A: { $xml: 'x' } }, false],
    ['array value', { A: ['x'] }, false],
    ['null value', { A: null }, false],
    ['control character in value', { A: 'a\u0000' }, false],
    ['too many fields', Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`F${i}`, i])), false],
    ['number beyond 1e15', { A: 1e16 }, false]
  ]
  for (const [name, f, ok] of table) {
    it(`${ok ? 'accepts' : 'rejects'} ${name}`, () => assert.equal(check(F, { f }), ok))
  }

  const keys: Array<[string, unknown, boolean]> = [
    ['a key', { name: 'ExternalOpportunityId', value: 'OPP-1' }, true],
    ['an empty value', { name: 'ExternalOpportunityId', value: '' }, false],
    ['a $xml name', { name: '$xml', value: 'x' }, false],
    ['an unknown field', { name: 'A', value: 'x', extra: 1 }, false],
    ['a numeric value', { name: 'A', value: 1 }, false],
    ['a 256-character value', { name: 'A', value: 'x'.repeat(256) }, false]
  ]
  for (const [name, key, ok] of keys) {
    it(`ExternalKey ${ok ? 'accepts' : 'rejects'} ${name}`, () => assert.equal(check(ExternalKey, key), ok))
  }
})

describe('the contract as a whole', () => {
  it('gives every shared and route schema an $id', () => {
    assert.deepEqual(
      [...sharedSchemas, ...routeSchemas].map(s => s.$id),
      ['ExternalKey', 'ObjectResult', 'SyncResult', 'ProblemDetails', 'DryRunResult', 'ProgramParams', 'ProgramCostsBody', 'ProgramTagsBody',
        'OpportunityParams', 'OpportunitiesBody', 'OpportunityPatchBody', 'RolesBody', 'MObjectsSyncBody']
    )
  })

  it('compiles with ajv\'s default strictness (as Fastify runs it) without a warning', () => {
    const warnings: unknown[] = []
    const strict = contractAjv({ strict: undefined, logger: { log () {}, warn: (...a) => warnings.push(a), error: (...a) => warnings.push(a) } })
    for (const schema of routeSchemas) strict.compile(schema)
    assert.deepEqual(warnings, [])
  })

  for (const schema of bodySchemas) {
    it(`${schema.$id}: has examples, all valid`, () => {
      assert.ok(Array.isArray(schema.examples) && schema.examples.length > 0)
      for (const example of schema.examples as unknown[]) {
        assert.equal(check(schema, structuredClone(example)), true, JSON.stringify(ajv.errors))
      }
    })
  }

  for (const schema of [ObjectResult, SyncResult, ProblemDetails]) {
    it(`${schema.$id}: its examples are valid`, () => {
      for (const example of schema.examples as unknown[]) assert.equal(check(schema, example), true, JSON.stringify(ajv.errors))
    })
  }

  it('ObjectResult takes every status and a null id', () => {
    for (const status of ['created', 'updated', 'unchanged', 'skipped', 'failed', 'deleted', 'unknown', 'not_applied']) {
      assert.equal(check(ObjectResult, { index: 3, id: null, status, error: { code: 'MARKETO_FAILED', message: 'x' } }), true)
    }
    assert.equal(check(ObjectResult, { index: 0, id: 1, status: 'CREATED' }), false)
  })
})
