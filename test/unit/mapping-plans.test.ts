import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import { sharedSchemas } from '../../src/http/schemas/common.js'
import { OpportunitiesBody, type OpportunityPatchBody } from '../../src/http/schemas/opportunities.js'
import { MObjectsSyncBody } from '../../src/http/schemas/mobjects.js'
import { ProgramCostsBody, ProgramTagsBody } from '../../src/http/schemas/programs.js'
import { RolesBody } from '../../src/http/schemas/roles.js'
import { planProgramCosts, planProgramTags } from '../../src/http/mapping/programs.js'
import { planOpportunities, planOpportunityPatch } from '../../src/http/mapping/opportunities.js'
import { planRoles } from '../../src/http/mapping/roles.js'
import { planMObjects } from '../../src/http/mapping/mobjects.js'
import { MappingError } from '../../src/http/mapping/mapping-error.js'

const ajv = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: true, strict: false })
addFormats.default(ajv)
for (const schema of sharedSchemas) ajv.addSchema(schema)

function mappingError (path: string) {
  return (err: unknown) => err instanceof MappingError && err.path === path
}

describe('the syncMObjects documentation examples', () => {
  it('program 1970, cost 2013-06 of 2000 with cost id 153', () => {
    assert.deepStrictEqual(planProgramCosts(1970, { costs: [{ month: '2013-06', amount: 2000, id: 153 }] }), {
      operation: 'UPDATE',
      objects: [{
        type: 'Program',
        id: 1970,
        typeAttribs: [{
          attrType: 'Cost',
          attribs: [{ name: 'Month', value: '2013-06' }, { name: 'Amount', value: '2000' }, { name: 'Id', value: '153' }]
        }]
      }]
    })
  })

  // The page sends Probability as "80%"; our contract takes a number of percent and sends "80".
  it('opportunity "Q1 2014"', () => {
    assert.deepStrictEqual(planOpportunities({ operation: 'insert', opportunities: [{ name: 'Q1 2014', amount: 2000, probability: 80 }] }), {
      operation: 'INSERT',
      objects: [{
        type: 'Opportunity',
        attribs: [{ name: 'Name', value: 'Q1 2014' }, { name: 'Amount', value: '2000' }, { name: 'Probability', value: '80' }]
      }]
    })
  })

  it('role for opportunity 64 and person 19', () => {
    assert.deepStrictEqual(planRoles({ operation: 'insert', roles: [{ opportunityId: 64, personId: 19, role: 'Influencer/Champion' }] }), {
      operation: 'INSERT',
      objects: [{
        type: 'OpportunityPersonRole',
        attribs: [{ name: 'OpportunityId', value: '64' }, { name: 'PersonId', value: '19' }, { name: 'Role', value: 'Influencer/Champion' }]
      }]
    })
  })

  it('the same three through the generic route', () => {
    const body = MObjectsSyncBody.examples as Array<Parameters<typeof planMObjects>[0]>
    assert.deepStrictEqual(body.map(planMObjects), [
      planProgramCosts(1970, { costs: [{ month: '2013-06', amount: 2000, id: 153 }] }),
      planOpportunities({ operation: 'insert', opportunities: [{ name: 'Q1 2014', amount: 2000, probability: 80 }] }),
      planRoles({ operation: 'insert', roles: [{ opportunityId: 64, personId: 19, role: 'Influencer/Champion' }] })
    ])
  })
})

describe('planProgramCosts and planProgramTags', () => {
  it('makes one typeAttrib per cost, in order, with optional attribs only when given', () => {
    assert.deepStrictEqual(planProgramCosts(7, {
      costs: [{ month: '2013-06', amount: 0.1, note: 'a\tb\nc' }, { month: '2013-07', amount: -0, id: 2_147_483_647, note: '' }]
    }), {
      operation: 'UPDATE',
      objects: [{
        type: 'Program',
        id: 7,
        typeAttribs: [
          { attrType: 'Cost', attribs: [{ name: 'Month', value: '2013-06' }, { name: 'Amount', value: '0.1' }, { name: 'Note', value: 'a\tb\nc' }] },
          { attrType: 'Cost', attribs: [{ name: 'Month', value: '2013-07' }, { name: 'Amount', value: '0' }, { name: 'Id', value: '2147483647' }, { name: 'Note', value: '' }] }
        ]
      }]
    })
  })

  it('makes Tag typeAttribs with Type and Value', () => {
    assert.deepStrictEqual(planProgramTags(1970, { tags: [{ type: 'Channel', value: 'Webinar' }, { type: 'Region', value: 'EMEA' }] }), {
      operation: 'UPDATE',
      objects: [{
        type: 'Program',
        id: 1970,
        typeAttribs: [
          { attrType: 'Tag', attribs: [{ name: 'Type', value: 'Channel' }, { name: 'Value', value: 'Webinar' }] },
          { attrType: 'Tag', attribs: [{ name: 'Type', value: 'Region' }, { name: 'Value', value: 'EMEA' }] }
        ]
      }]
    })
  })
})

describe('planOpportunities', () => {
  it('writes standard fields in table order, then custom fields in body order, then the company', () => {
    const body = {
      operation: 'upsert' as const,
      opportunities: [{
        // deliberately out of table order
        isWon: false,
        customFields: { Zeta__c: 'z', Alpha__c: 1.5, Flag__c: true },
        closeDate: '2014-03-31',
        name: 'Q1 2014',
        externalKey: { name: 'ExternalOpportunityId', value: 'OPP-1' },
        fiscalQuarter: 1,
        description: 'line 1\r\nline 2',
        company: { externalKey: { name: 'ExternalCompanyId', value: 'ACME' } },
        isClosed: true,
        fiscalYear: 2014,
        amount: 1e-7,
        expectedRevenue: 1600.5,
        probability: 0,
        quantity: 3,
        externalCreatedDate: '2014-01-02',
        lastActivityDate: '2024-02-29',
        fiscal: '2014 1',
        forecastCategoryName: 'Pipeline',
        leadSource: 'Web',
        nextStep: 'Call',
        stage: 'Prospecting',
        type: 'New Business'
      }, { id: 64, stage: 'Closed Won', company: { id: 42 } }]
    }
    assert.deepStrictEqual(planOpportunities(body), {
      operation: 'UPSERT',
      objects: [{
        type: 'Opportunity',
        externalKey: { name: 'ExternalOpportunityId', value: 'OPP-1' },
        attribs: [
          { name: 'Name', value: 'Q1 2014' },
          { name: 'Description', value: 'line 1\r\nline 2' },
          { name: 'Amount', value: '0.0000001' },
          { name: 'ExpectedRevenue', value: '1600.5' },
          { name: 'Probability', value: '0' },
          { name: 'Quantity', value: '3' },
          { name: 'CloseDate', value: '2014-03-31' },
          { name: 'ExternalCreatedDate', value: '2014-01-02' },
          { name: 'LastActivityDate', value: '2024-02-29' },
          { name: 'Fiscal', value: '2014 1' },
          { name: 'FiscalQuarter', value: '1' },
          { name: 'FiscalYear', value: '2014' },
          { name: 'ForecastCategoryName', value: 'Pipeline' },
          { name: 'LeadSource', value: 'Web' },
          { name: 'NextStep', value: 'Call' },
          { name: 'Stage', value: 'Prospecting' },
          { name: 'Type', value: 'New Business' },
          { name: 'IsClosed', value: '1' },
          { name: 'IsWon', value: '0' },
          { name: 'Zeta__c', value: 'z' },
          { name: 'Alpha__c', value: '1.5' },
          { name: 'Flag__c', value: '1' }
        ],
        associations: [{ mObjType: 'Company', externalKey: { name: 'ExternalCompanyId', value: 'ACME' } }]
      }, {
        type: 'Opportunity',
        id: 64,
        attribs: [{ name: 'Stage', value: 'Closed Won' }],
        associations: [{ mObjType: 'Company', id: 42 }]
      }]
    })
  })

  it('defaults to UPSERT', () => {
    assert.equal(planOpportunities({ opportunities: [{ id: 1 }] }).operation, 'UPSERT')
  })

  it('omits attribs when there are none', () => {
    assert.deepStrictEqual(planOpportunities({ operation: 'update', opportunities: [{ id: 1 }] }).objects, [{ type: 'Opportunity', id: 1 }])
  })

  it('lets insert go without a key', () => {
    assert.deepStrictEqual(planOpportunities({ operation: 'insert', opportunities: [{ name: 'x' }] }).objects, [{ type: 'Opportunity', attribs: [{ name: 'Name', value: 'x' }] }])
  })

  const rules: Array<[string, Parameters<typeof planOpportunities>[0], string]> = [
    ['update without a key', { operation: 'update', opportunities: [{ id: 1 }, { id: 2 }, { id: 3 }, { name: 'x' }] }, '/opportunities/3'],
    ['upsert without a key', { opportunities: [{ name: 'x' }] }, '/opportunities/0'],
    ['both id and externalKey', { operation: 'insert', opportunities: [{ id: 1, externalKey: { name: 'A', value: 'b' } }] }, '/opportunities/0'],
    ['a custom field named like a standard field in another case', { operation: 'insert', opportunities: [{ customFields: { Region: 'x', name: 'y' } }] }, '/opportunities/0/customFields/name'],
    ['a custom field named AMOUNT', { operation: 'insert', opportunities: [{ name: 'a' }, { customFields: { AMOUNT: 1 } }] }, '/opportunities/1/customFields/AMOUNT']
  ]
  for (const [name, body, path] of rules) {
    it(`throws a MappingError at ${path} for ${name}`, () => {
      assert.equal(ajv.validate(OpportunitiesBody, structuredClone(body)), true, 'the schema lets it through')
      assert.throws(() => planOpportunities(body), mappingError(path))
    })
  }
})

describe('planOpportunityPatch', () => {
  it('updates the path id and nothing else names the object', () => {
    const body: OpportunityPatchBody = { isWon: true, stage: 'Closed Won', customFields: { Region__c: 'EMEA' }, company: { id: 5 } }
    assert.deepStrictEqual(planOpportunityPatch(64, body), {
      operation: 'UPDATE',
      objects: [{
        type: 'Opportunity',
        id: 64,
        attribs: [{ name: 'Stage', value: 'Closed Won' }, { name: 'IsWon', value: '1' }, { name: 'Region__c', value: 'EMEA' }],
        associations: [{ mObjType: 'Company', id: 5 }]
      }]
    })
  })

  it('ignores keys the schema would have refused', () => {
    const body = { stage: 'x', id: 1, externalKey: { name: 'A', value: 'b' }, $xml: '<x/>' } as OpportunityPatchBody
    assert.deepStrictEqual(planOpportunityPatch(64, body).objects, [{ type: 'Opportunity', id: 64, attribs: [{ name: 'Stage', value: 'x' }] }])
  })

  it('refuses a case variant of a standard name', () => {
    assert.throws(() => planOpportunityPatch(1, { customFields: { STAGE: 'x' } }), mappingError('/customFields/STAGE'))
  })
})

describe('planRoles', () => {
  it('turns ids into attribs and external keys into associations', () => {
    assert.deepStrictEqual(planRoles({
      roles: [
        { isPrimary: true, externalCreatedDate: '2014-01-02', role: 'Decision Maker', person: { externalKey: { name: 'Email', value: 'a@b.c' } }, opportunity: { externalKey: { name: 'ExternalOpportunityId', value: 'OPP-1' } } },
        { personId: 19, opportunity: { externalKey: { name: 'ExternalOpportunityId', value: 'OPP-1' } }, isPrimary: false }
      ]
    }), {
      operation: 'INSERT',
      objects: [{
        type: 'OpportunityPersonRole',
        attribs: [{ name: 'Role', value: 'Decision Maker' }, { name: 'IsPrimary', value: '1' }, { name: 'ExternalCreatedDate', value: '2014-01-02' }],
        associations: [
          { mObjType: 'Opportunity', externalKey: { name: 'ExternalOpportunityId', value: 'OPP-1' } },
          { mObjType: 'Lead', externalKey: { name: 'Email', value: 'a@b.c' } }
        ]
      }, {
        type: 'OpportunityPersonRole',
        attribs: [{ name: 'PersonId', value: '19' }, { name: 'IsPrimary', value: '0' }],
        associations: [{ mObjType: 'Opportunity', externalKey: { name: 'ExternalOpportunityId', value: 'OPP-1' } }]
      }]
    })
  })

  it('keeps the operation asked for', () => {
    assert.equal(planRoles({ operation: 'upsert', roles: [{ opportunityId: 1, personId: 2 }] }).operation, 'UPSERT')
  })

  it('throws a MappingError when the schema was bypassed', () => {
    assert.throws(() => planRoles({ roles: [{ opportunityId: 1, personId: 2 }, { personId: 2 }] }), mappingError('/roles/1'))
    assert.throws(() => planRoles({ roles: [{ opportunityId: 1, personId: 2, person: { externalKey: { name: 'A', value: 'b' } } }] }), mappingError('/roles/0'))
  })
})

describe('planMObjects', () => {
  it('copies attributes, typeAttributes and associations in the caller\'s order', () => {
    assert.deepStrictEqual(planMObjects({
      operation: 'UPSERT',
      mObjects: [{
        type: 'Opportunity',
        externalKey: { name: 'ExternalOpportunityId', value: 'OPP-1' },
        attributes: { Stage: 'Won', Amount: 2000.25, IsWon: true, Custom__c: 'x' },
        associations: [{ type: 'Company', id: 42 }]
      }, {
        type: 'OpportunityPersonRole',
        attributes: { PersonId: 19, Role: 'x' },
        associations: [{ type: 'Opportunity', externalKey: { name: 'ExternalOpportunityId', value: 'OPP-1' } }, { type: 'Lead', id: 19 }]
      }, {
        type: 'Program',
        id: 1970,
        typeAttributes: [{ type: 'Tag', attributes: { Type: 'Channel', Value: 'Webinar' } }, { type: 'Cost', attributes: { Month: '2013-06', Amount: 1 } }]
      }]
    }), {
      operation: 'UPSERT',
      objects: [{
        type: 'Opportunity',
        externalKey: { name: 'ExternalOpportunityId', value: 'OPP-1' },
        attribs: [{ name: 'Stage', value: 'Won' }, { name: 'Amount', value: '2000.25' }, { name: 'IsWon', value: '1' }, { name: 'Custom__c', value: 'x' }],
        associations: [{ mObjType: 'Company', id: 42 }]
      }, {
        type: 'OpportunityPersonRole',
        attribs: [{ name: 'PersonId', value: '19' }, { name: 'Role', value: 'x' }],
        associations: [{ mObjType: 'Opportunity', externalKey: { name: 'ExternalOpportunityId', value: 'OPP-1' } }, { mObjType: 'Lead', id: 19 }]
      }, {
        type: 'Program',
        id: 1970,
        typeAttribs: [
          { attrType: 'Tag', attribs: [{ name: 'Type', value: 'Channel' }, { name: 'Value', value: 'Webinar' }] },
          { attrType: 'Cost', attribs: [{ name: 'Month', value: '2013-06' }, { name: 'Amount', value: '1' }] }
        ]
      }]
    })
  })

  const rules: Array<[string, Parameters<typeof planMObjects>[0], string]> = [
    ['a Program without id', { operation: 'UPDATE', mObjects: [{ type: 'Opportunity', id: 1 }, { type: 'Program', externalKey: { name: 'A', value: 'b' } }] }, '/mObjects/1'],
    ['an Opportunity update without a key', { operation: 'UPDATE', mObjects: [{ type: 'Opportunity', attributes: { Name: 'x' } }] }, '/mObjects/0'],
    ['both id and externalKey', { operation: 'INSERT', mObjects: [{ type: 'Opportunity', id: 1, externalKey: { name: 'A', value: 'b' } }] }, '/mObjects/0']
  ]
  for (const [name, body, path] of rules) {
    it(`throws a MappingError at ${path} for ${name}`, () => {
      assert.equal(ajv.validate(MObjectsSyncBody, structuredClone(body)), true, 'the schema lets it through')
      assert.throws(() => planMObjects(body), mappingError(path))
    })
  }

  it('lets an Opportunity insert and a role go without a key', () => {
    assert.doesNotThrow(() => planMObjects({ operation: 'INSERT', mObjects: [{ type: 'Opportunity' }] }))
    assert.doesNotThrow(() => planMObjects({ operation: 'UPSERT', mObjects: [{ type: 'OpportunityPersonRole', attributes: { OpportunityId: 1, PersonId: 2 } }] }))
  })
})

describe('every string the schema accepts reaches the attrib unchanged', () => {
  const strings = fc.oneof(
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.stringMatching(/^[\t\n\r a-z<>&'"\]![CDAT]{0,30}$/)
  )

  it('through every planner', () => {
    let accepted = 0
    fc.assert(fc.property(strings, s => {
      const costs = { costs: [{ month: '2013-06', amount: 1, note: s }] }
      if (!ajv.validate(ProgramCostsBody, costs)) return
      accepted++
      assert.equal(planProgramCosts(1, costs).objects[0].typeAttribs?.[0].attribs[2].value, s)

      const opportunities = { operation: 'insert' as const, opportunities: [{ description: s, customFields: { Note__c: s } }] }
      assert.equal(ajv.validate(OpportunitiesBody, opportunities), true)
      assert.deepStrictEqual(planOpportunities(opportunities).objects[0].attribs, [{ name: 'Description', value: s }, { name: 'Note__c', value: s }])

      const generic = { operation: 'UPDATE' as const, mObjects: [{ type: 'Opportunity' as const, id: 1, attributes: { Description: s } }] }
      assert.equal(ajv.validate(MObjectsSyncBody, generic), true)
      assert.deepStrictEqual(planMObjects(generic).objects[0].attribs, [{ name: 'Description', value: s }])

      if (s === '') return
      const tags = { tags: [{ type: s, value: s }] }
      assert.equal(ajv.validate(ProgramTagsBody, tags), true)
      assert.deepStrictEqual(planProgramTags(1, tags).objects[0].typeAttribs?.[0].attribs, [{ name: 'Type', value: s }, { name: 'Value', value: s }])

      const roles = { roles: [{ opportunity: { externalKey: { name: 'Key', value: s } }, personId: 1, role: s }] }
      assert.equal(ajv.validate(RolesBody, roles), true)
      const [role] = planRoles(roles).objects
      assert.deepStrictEqual(role.attribs, [{ name: 'PersonId', value: '1' }, { name: 'Role', value: s }])
      assert.deepStrictEqual(role.associations, [{ mObjType: 'Opportunity', externalKey: { name: 'Key', value: s } }])
    }), { numRuns: 500 })
    assert.ok(accepted > 100, `only ${accepted} strings were accepted`)
  })
})
