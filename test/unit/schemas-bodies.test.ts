import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Ajv, type AnySchema } from 'ajv'
import addFormats from 'ajv-formats'
import { sharedSchemas } from '../../src/http/schemas/common.js'
import { ProgramCostsBody, ProgramTagsBody } from '../../src/http/schemas/programs.js'
import { OpportunitiesBody, OpportunityPatchBody } from '../../src/http/schemas/opportunities.js'
import { RolesBody } from '../../src/http/schemas/roles.js'
import { MObjectsSyncBody } from '../../src/http/schemas/mobjects.js'

const ajv = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false })
addFormats.default(ajv)
for (const schema of sharedSchemas) ajv.addSchema(schema)

type Case = [name: string, body: unknown, ok: boolean, path?: string]

function runTable (schema: AnySchema & { $id?: string }, cases: Case[]) {
  describe(schema.$id ?? 'schema', () => {
    for (const [name, body, ok, path] of cases) {
      it(`${ok ? 'accepts' : 'rejects'} ${name}`, () => {
        assert.equal(ajv.validate(schema, body), ok, JSON.stringify(ajv.errors))
        if (path !== undefined) assert.equal(ajv.errors?.[0].instancePath, path)
      })
    }
  })
}

const many = <T>(n: number, item: T) => Array.from({ length: n }, () => structuredClone(item))

const cost = { month: '2013-06', amount: 2000, id: 153 }
runTable(ProgramCostsBody, [
  ['the syncMObjects example', { costs: [cost] }, true],
  ['a note with lines and tabs', { costs: [{ month: '2013-06', amount: 0.1, note: 'a\tb\r\nc' }] }, true],
  ['a negative amount', { costs: [{ month: '2013-06', amount: -5 }] }, true],
  ['100 costs', { costs: many(100, cost) }, true],
  ['101 costs', { costs: many(101, cost) }, false, '/costs'],
  ['no costs', { costs: [] }, false, '/costs'],
  ['a missing body field', {}, false],
  ['an unknown top-level field', { costs: [cost], extra: 1 }, false],
  ['an unknown cost field', { costs: [{ ...cost, currency: 'EUR' }] }, false, '/costs/0'],
  ['a missing month', { costs: [{ amount: 1 }] }, false, '/costs/0'],
  ['month 2013-13', { costs: [{ ...cost, month: '2013-13' }] }, false, '/costs/0/month'],
  ['month 2013-6', { costs: [{ ...cost, month: '2013-6' }] }, false, '/costs/0/month'],
  ['a string amount', { costs: [{ ...cost, amount: '2000' }] }, false, '/costs/0/amount'],
  ['amount 1e16', { costs: [{ ...cost, amount: 1e16 }] }, false, '/costs/0/amount'],
  ['amount 1e309 (Infinity)', JSON.parse('{"costs":[{"month":"2013-06","amount":1e309}]}'), false, '/costs/0/amount'],
  ['amount 12345678901234567890', JSON.parse('{"costs":[{"month":"2013-06","amount":12345678901234567890}]}'), false, '/costs/0/amount'],
  ['cost id 0', { costs: [{ ...cost, id: 0 }] }, false, '/costs/0/id'],
  ['cost id 2147483648', { costs: [{ ...cost, id: 2_147_483_648 }] }, false, '/costs/0/id'],
  ['cost id 2147483647', { costs: [{ ...cost, id: 2_147_483_647 }] }, true],
  ['a string cost id', { costs: [{ ...cost, id: '153' }] }, false, '/costs/0/id'],
  ['a note with \\u0000', { costs: [{ ...cost, note: '\u0000' }] }, false, '/costs/0/note'],
  ['a 2001-character note', { costs: [{ ...cost, note: 'x'.repeat(2001) }] }, false, '/costs/0/note']
])

const tag = { type: 'Channel', value: 'Webinar' }
runTable(ProgramTagsBody, [
  ['a tag', { tags: [tag] }, true],
  ['100 tags', { tags: many(100, tag) }, true],
  ['101 tags', { tags: many(101, tag) }, false, '/tags'],
  ['no tags', { tags: [] }, false, '/tags'],
  ['an empty value', { tags: [{ type: 'Channel', value: '' }] }, false, '/tags/0/value'],
  ['a missing type', { tags: [{ value: 'Webinar' }] }, false, '/tags/0'],
  ['an unknown field', { tags: [{ ...tag, id: 1 }] }, false, '/tags/0'],
  ['CDATA in the value', { tags: [{ type: 'Channel', value: '<![CDATA[x' }] }, false, '/tags/0/value']
])

const opportunity = { name: 'Q1 2014', amount: 2000, probability: 80 }
const full = {
  id: 64,
  name: 'Q1 2014',
  description: 'line 1\nline 2',
  amount: 2000,
  expectedRevenue: 1600.5,
  probability: 80,
  quantity: 3,
  closeDate: '2014-03-31',
  externalCreatedDate: '2014-01-02',
  lastActivityDate: '2024-02-29',
  fiscal: '2014 1',
  fiscalQuarter: 1,
  fiscalYear: 2014,
  forecastCategoryName: 'Pipeline',
  leadSource: 'Web',
  nextStep: 'Call',
  stage: 'Prospecting',
  type: 'New Business',
  isClosed: false,
  isWon: false,
  customFields: { Region__c: 'EMEA', Seats: 10, Renewal: true },
  company: { externalKey: { name: 'ExternalCompanyId', value: 'ACME' } }
}
const opps = (o: object, operation?: string) => ({ ...(operation === undefined ? {} : { operation }), opportunities: [o] })
runTable(OpportunitiesBody, [
  ['the syncMObjects example', opps(opportunity, 'insert'), true],
  ['every field', opps(full, 'update'), true],
  ['an external key', opps({ externalKey: { name: 'ExternalOpportunityId', value: 'OPP-1' }, stage: 'Won' }), true],
  ['a company by id', opps({ id: 1, company: { id: 2_147_483_647 } }), true],
  ['1000 opportunities', { opportunities: many(1000, opportunity) }, true],
  ['1001 opportunities', { opportunities: many(1001, opportunity) }, false, '/opportunities'],
  ['no opportunities', { opportunities: [] }, false, '/opportunities'],
  ['operation INSERT (upper case)', opps(opportunity, 'INSERT'), false, '/operation'],
  ['operation delete', opps(opportunity, 'delete'), false, '/operation'],
  ['an unknown field', opps({ ...opportunity, foo: 1 }), false, '/opportunities/0'],
  ['a top-level __proto__', JSON.parse('{"opportunities":[{"name":"x"}],"__proto__":{"polluted":1}}'), false],
  ['__proto__ in an opportunity', { opportunities: [JSON.parse('{"name":"x","__proto__":{"polluted":1}}')] }, false, '/opportunities/0'],
  ['a string amount', opps({ amount: '1e3' }), false, '/opportunities/0/amount'],
  ['a numeric name', opps({ name: 123 }), false, '/opportunities/0/name'],
  ['a string boolean', opps({ isWon: 'false' }), false, '/opportunities/0/isWon'],
  ['an empty name', opps({ name: '' }), false, '/opportunities/0/name'],
  ['a 256-character name', opps({ name: 'x'.repeat(256) }), false, '/opportunities/0/name'],
  ['a 255-emoji name', opps({ name: '😀'.repeat(255) }), true],
  ['a 2001-character description', opps({ description: 'x'.repeat(2001) }), false, '/opportunities/0/description'],
  ['probability 101', opps({ probability: 101 }), false, '/opportunities/0/probability'],
  ['probability -1', opps({ probability: -1 }), false, '/opportunities/0/probability'],
  ['probability "80%"', opps({ probability: '80%' }), false, '/opportunities/0/probability'],
  ['a negative quantity', opps({ quantity: -1 }), false, '/opportunities/0/quantity'],
  ['fiscalQuarter 5', opps({ fiscalQuarter: 5 }), false, '/opportunities/0/fiscalQuarter'],
  ['fiscalQuarter 1.5', opps({ fiscalQuarter: 1.5 }), false, '/opportunities/0/fiscalQuarter'],
  ['fiscalYear 1899', opps({ fiscalYear: 1899 }), false, '/opportunities/0/fiscalYear'],
  ['fiscalYear 3000', opps({ fiscalYear: 3000 }), false, '/opportunities/0/fiscalYear'],
  ['closeDate 2024-02-30', opps({ closeDate: '2024-02-30' }), false, '/opportunities/0/closeDate'],
  ['closeDate 2024-2-3', opps({ closeDate: '2024-2-3' }), false, '/opportunities/0/closeDate'],
  ['id 0', opps({ id: 0 }), false, '/opportunities/0/id'],
  ['id -1', opps({ id: -1 }), false, '/opportunities/0/id'],
  ['id 2147483648', opps({ id: 2_147_483_648 }), false, '/opportunities/0/id'],
  ['id 2147483647', opps({ id: 2_147_483_647 }), true],
  ['a custom field named $xml', opps({ customFields: JSON.parse('{"$xml":"<x/>"}') }), false, '/opportunities/0/customFields'],
  ['a custom field named __proto__', opps({ customFields: JSON.parse('{"__proto__":"x"}') }), false, '/opportunities/0/customFields'],
  ['a custom field named like a standard field', opps({ customFields: { Name: 'x' } }), false, '/opportunities/0/customFields'],
  ['a custom field named Id', opps({ customFields: { Id: 1 } }), false, '/opportunities/0/customFields'],
  ['an object custom value', opps({ customFields: { A: { $xml: '<x/>' } } }), false],
  ['empty customFields', opps({ customFields: {} }), false, '/opportunities/0/customFields'],
  ['a company with id and externalKey', opps({ company: { id: 1, externalKey: { name: 'A', value: 'b' } } }), false],
  ['an empty company', opps({ company: {} }), false],
  ['a company id 0', opps({ company: { id: 0 } }), false],
  ['an externalKey with an unknown field', opps({ externalKey: { name: 'A', value: 'b', $xml: 'x' } }), false, '/opportunities/0/externalKey'],
  ['an externalKey with a control character', opps({ externalKey: { name: 'A', value: 'b\u0001' } }), false, '/opportunities/0/externalKey/value'],
  ['a lone surrogate at depth', opps({ company: { externalKey: { name: 'A', value: '\uD800' } } }), false]
])

describe('OpportunitiesBody defaults', () => {
  it('fills operation with upsert', () => {
    const body: Record<string, unknown> = { opportunities: [{ id: 1 }] }
    assert.equal(ajv.validate(OpportunitiesBody, body), true)
    assert.equal(body.operation, 'upsert')
  })
})

const { id: _id, ...patch } = full
runTable(OpportunityPatchBody, [
  ['one field', { stage: 'Closed Won' }, true],
  ['every field', patch, true],
  ['an empty body', {}, false],
  ['an id in the body', { id: 1, stage: 'x' }, false],
  ['an externalKey in the body', { externalKey: { name: 'A', value: 'b' }, stage: 'x' }, false],
  ['a string boolean', { isWon: 'true' }, false, '/isWon'],
  ['a control character', { nextStep: 'a\u001Fb' }, false, '/nextStep']
])

const role = { opportunityId: 64, personId: 19, role: 'Influencer/Champion' }
const byKey = { externalKey: { name: 'ExternalOpportunityId', value: 'OPP-1' } }
runTable(RolesBody, [
  ['the syncMObjects example', { operation: 'insert', roles: [role] }, true],
  ['external keys for both', { roles: [{ opportunity: byKey, person: { externalKey: { name: 'Email', value: 'a@b.c' } }, isPrimary: true, externalCreatedDate: '2014-01-02' }] }, true],
  ['mixed references', { roles: [{ opportunity: byKey, personId: 19 }] }, true],
  ['1000 roles', { roles: many(1000, role) }, true],
  ['1001 roles', { roles: many(1001, role) }, false, '/roles'],
  ['no roles', { roles: [] }, false, '/roles'],
  ['no opportunity', { roles: [{ personId: 19 }] }, false, '/roles/0'],
  ['both opportunity references', { roles: [{ opportunityId: 64, opportunity: byKey, personId: 19 }] }, false, '/roles/0'],
  ['no person', { roles: [{ opportunityId: 64 }] }, false, '/roles/0'],
  ['both person references', { roles: [{ opportunityId: 64, personId: 19, person: byKey }] }, false, '/roles/0'],
  ['an opportunity by id object', { roles: [{ opportunity: { id: 64 }, personId: 19 }] }, false],
  ['personId 0', { roles: [{ opportunityId: 64, personId: 0 }] }, false, '/roles/0/personId'],
  ['a string personId', { roles: [{ opportunityId: 64, personId: '19' }] }, false, '/roles/0/personId'],
  ['a string isPrimary', { roles: [{ ...role, isPrimary: 'true' }] }, false, '/roles/0/isPrimary'],
  ['an unknown field', { roles: [{ ...role, weight: 1 }] }, false, '/roles/0'],
  ['a bad date', { roles: [{ ...role, externalCreatedDate: '2023-02-29' }] }, false, '/roles/0/externalCreatedDate']
])

describe('RolesBody defaults', () => {
  it('fills operation with insert', () => {
    const body: Record<string, unknown> = { roles: [role] }
    assert.equal(ajv.validate(RolesBody, body), true)
    assert.equal(body.operation, 'insert')
  })
})

const program = { type: 'Program', id: 1970, typeAttributes: [{ type: 'Cost', attributes: { Month: '2013-06', Amount: 2000, Id: 153 } }] }
const mobjects = (o: object, operation = 'UPSERT') => ({ operation, mObjects: [o] })
runTable(MObjectsSyncBody, [
  ['the program cost example', mobjects(program, 'UPDATE'), true],
  ['associations by id and key', mobjects({ type: 'OpportunityPersonRole', attributes: { Role: 'x' }, associations: [{ type: 'Opportunity', externalKey: byKey.externalKey }, { type: 'Lead', id: 19 }] }), true],
  ['1000 objects', { operation: 'INSERT', mObjects: many(1000, { type: 'Opportunity' }) }, true],
  ['1001 objects', { operation: 'INSERT', mObjects: many(1001, { type: 'Opportunity' }) }, false, '/mObjects'],
  ['no objects', { operation: 'INSERT', mObjects: [] }, false, '/mObjects'],
  ['no operation', { mObjects: [program] }, false],
  ['operation in lower case', mobjects(program, 'update'), false, '/operation'],
  ['type Lead', mobjects({ type: 'Lead', id: 1 }), false, '/mObjects/0/type'],
  ['typeAttribute type Price', mobjects({ type: 'Program', id: 1, typeAttributes: [{ type: 'Price', attributes: { A: 1 } }] }), false],
  ['an association with id and key', mobjects({ type: 'Opportunity', id: 1, associations: [{ type: 'Company', id: 1, externalKey: byKey.externalKey }] }), false],
  ['an association type Program', mobjects({ type: 'Opportunity', id: 1, associations: [{ type: 'Program', id: 1 }] }), false],
  ['an attribute named $attributes', mobjects({ type: 'Opportunity', id: 1, attributes: { $attributes: 'x' } }), false, '/mObjects/0/attributes'],
  ['an attribute named __proto__', mobjects({ type: 'Opportunity', id: 1, attributes: JSON.parse('{"__proto__":"x"}') }), false, '/mObjects/0/attributes'],
  ['an object attribute value', mobjects({ type: 'Opportunity', id: 1, attributes: { A: { $value: 'x' } } }), false],
  ['an unknown field', mobjects({ ...program, attribList: [] }), false, '/mObjects/0'],
  ['empty typeAttributes', mobjects({ ...program, typeAttributes: [] }), false, '/mObjects/0/typeAttributes'],
  ['id 2147483648', mobjects({ ...program, id: 2_147_483_648 }), false, '/mObjects/0/id'],
  ['a \\uFFFF value', mobjects({ type: 'Opportunity', id: 1, attributes: { Name: '\uFFFF' } }), false]
])
