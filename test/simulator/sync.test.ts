import { after, before, beforeEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { computeSignature, formatTimestamp } from '../../src/backends/soap/signing.js'
import { DEMO_ENCRYPTION_KEY, DEMO_USER_ID, startSimulator, type RunningSimulator } from '../../simulator/index.js'
import { NOW, post, schemaErrors, start, statusesOf, sync, syncXml } from './helpers.js'

// The request of the syncMObjects doc page, byte for byte except for the signature and timestamp.
const DOC_REQUEST = `<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="http://www.marketo.com/mktows/">
  <SOAP-ENV:Header>
    <ns1:AuthenticationHeader>
      <mktowsUserId>demo17_1_809934544BFABAE58E5D27</mktowsUserId>
      <requestSignature>40e6d89bd2f7f0daaddaf150ce7a7ca49788ffe7</requestSignature>
      <requestTimestamp>2013-08-05T14:22:45-07:00</requestTimestamp>
    </ns1:AuthenticationHeader>
  </SOAP-ENV:Header>
  <SOAP-ENV:Body>
    <ns1:paramsSyncMObjects>
      <mObjectList>
        <mObject>
          <type>Program</type>
          <id>1970</id>
          <typeAttribList>
            <typeAttrib>
              <attrType>Cost</attrType>
              <attrList>
                <attrib>
                  <name>Month</name>
                  <value>2013-06</value>
                </attrib>
                <attrib>
                  <name>Amount</name>
                  <value>2000</value>
                </attrib>
                <attrib>
                  <name>Id</name>
                  <value>153</value>
                </attrib>
              </attrList>
            </typeAttrib>
          </typeAttribList>
        </mObject>
      </mObjectList>
      <operation>UPDATE</operation>
    </ns1:paramsSyncMObjects>
  </SOAP-ENV:Body>
</SOAP-ENV:Envelope>`

const UPDATED_1970 = '<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="http://www.marketo.com/mktows/">' +
  '<SOAP-ENV:Body><ns1:successSyncMObjects><result><mObjStatusList><mObjStatus><id>1970</id><status>UPDATED</status></mObjStatus></mObjStatusList></result></ns1:successSyncMObjects></SOAP-ENV:Body></SOAP-ENV:Envelope>\n'

describe('syncMObjects: the doc page example', () => {
  it('answers UPDATED for program 1970 when sent verbatim with a fresh signature', async (t) => {
    const sim = await start(t)
    const ts = formatTimestamp(NOW)
    const xml = DOC_REQUEST
      .replace('2013-08-05T14:22:45-07:00', ts)
      .replace('40e6d89bd2f7f0daaddaf150ce7a7ca49788ffe7', computeSignature(DEMO_ENCRYPTION_KEY, ts, DEMO_USER_ID))
    const reply = await post(sim, xml)
    assert.equal(reply.status, 200)
    assert.equal(reply.headers.get('content-type'), 'text/xml; charset=utf-8')
    assert.equal(reply.body, UPDATED_1970)
    assert.deepEqual(await schemaErrors(reply.body), [])
    assert.deepEqual(sim.store.programs.get(1970)?.costs.find((c) => c.id === 153), { id: 153, month: '2013-06', amount: '2000' })
    // The same cost again changes nothing.
    assert.deepEqual(statusesOf((await post(sim, xml)).body), [{ id: 1970, status: 'UNCHANGED' }])
  })

  it('accepts the doc signature itself when the clock is at the doc time', async (t) => {
    const sim = await start(t, { clock: () => new Date('2013-08-05T14:30:00-07:00') })
    const reply = await post(sim, DOC_REQUEST)
    assert.equal(reply.body, UPDATED_1970)
  })
})

describe('syncMObjects semantics', () => {
  let sim: RunningSimulator
  before(async () => { sim = await startSimulator({ clock: () => NOW }) })
  after(() => sim.close())
  beforeEach(() => sim.reset())

  describe('Program', () => {
    it('UPDATE: costs by Id, appended costs, tags and channels, UNCHANGED and SKIPPED', async () => {
      const statuses = await sync(sim, 'UPDATE', [
        { type: 'Program', id: 1970, typeAttribs: [['Cost', { Month: '2013-07', Amount: '300', Note: 'July' }]] },
        { type: 'Program', id: 1002, typeAttribs: [['Tag', { Type: 'Channel', Value: 'Webinar' }], ['Tag', { Type: 'Region', Value: 'EMEA' }]] },
        { type: 'Program', id: 1001, typeAttribs: [['Tag', { Type: 'Channel', Value: 'Content' }]] },
        { type: 'Program', id: 9999, typeAttribs: [['Tag', { Type: 'Channel', Value: 'Content' }]] },
        { type: 'Program', id: 1970, typeAttribs: [['Cost', { Month: '2013-06', Amount: '1500', Id: '153' }]] }
      ])
      assert.deepEqual(statuses, [
        { id: 1970, status: 'UPDATED' },
        { id: 1002, status: 'UPDATED' },
        { id: 1001, status: 'UNCHANGED' },
        { id: 9999, status: 'SKIPPED' },
        { id: 1970, status: 'UNCHANGED' }
      ])
      assert.deepEqual(sim.store.programs.get(1970)?.costs.at(-1), { id: 154, month: '2013-07', amount: '300', note: 'July' })
      assert.deepEqual(sim.store.programs.get(1002)?.tags, [
        { type: 'Channel', value: 'Webinar' }, { type: 'Product Line', value: 'Coffee' }, { type: 'Region', value: 'EMEA' }
      ])
    })

    it('FAILED with a reason: other modes, unknown tags, bad costs', async () => {
      const cases: [string, Parameters<typeof sync>[2][number], string][] = [
        ['INSERT', { type: 'Program', id: 1970 }, 'Program can only be synced in UPDATE mode, not INSERT'],
        ['UPSERT', { type: 'Program', id: 1970 }, 'Program can only be synced in UPDATE mode, not UPSERT'],
        ['UPDATE', { type: 'Program', typeAttribs: [] }, 'Program id is required'],
        ['UPDATE', { type: 'Program', id: 1970, typeAttribs: [['Tag', { Type: 'Color', Value: 'Red' }]] }, "Unknown tag type 'Color'"],
        ['UPDATE', { type: 'Program', id: 1970, typeAttribs: [['Tag', { Type: 'Channel', Value: 'Carrier Pigeon' }]] }, "Invalid value 'Carrier Pigeon' for tag type 'Channel'"],
        ['UPDATE', { type: 'Program', id: 1970, typeAttribs: [['Cost', { Amount: '1' }]] }, 'Cost Month is required'],
        ['UPDATE', { type: 'Program', id: 1970, typeAttribs: [['Cost', { Month: '2013-13', Amount: '1' }]] }, "Invalid Cost Month '2013-13': expected YYYY-MM"],
        ['UPDATE', { type: 'Program', id: 1970, typeAttribs: [['Cost', { Month: '2013-06' }]] }, 'Cost Amount is required'],
        ['UPDATE', { type: 'Program', id: 1970, typeAttribs: [['Cost', { Month: '2013-06', Amount: 'lots' }]] }, "Invalid Cost Amount 'lots'"],
        ['UPDATE', { type: 'Program', id: 1970, typeAttribs: [['Cost', { Month: '2013-06', Amount: '1', Id: '999' }]] }, 'Cost Id 999 not found for Program 1970'],
        ['UPDATE', { type: 'Program', id: 1970, typeAttribs: [['Token', { Name: 'x' }]] }, "Invalid attrType 'Token' for Program: expected Cost or Tag"],
        ['UPDATE', { type: 'Program', id: 1970, attribs: { Name: 'Renamed' } }, 'Program attributes cannot be updated through the API: Name']
      ]
      for (const [mode, obj, error] of cases) {
        assert.deepEqual(await sync(sim, mode, [obj]), [{ id: obj.id ?? 0, status: 'FAILED', error }], error)
      }
      assert.deepEqual(sim.store.snapshot().programs, sim.store.seed.programs)
    })
  })

  describe('Opportunity', () => {
    const acme = { type: 'Company', externalKey: ['cAccountFSID', 'C123'] as [string, string] }

    it('every mode against new and existing objects', async () => {
      const table: [string, Parameters<typeof sync>[2][number], { id: number, status: string, externalKey?: [string, string] }][] = [
        ['INSERT', { type: 'Opportunity', attribs: { Name: 'New A', Amount: '10' } }, { id: 65, status: 'CREATED' }],
        ['INSERT', { type: 'Opportunity', id: 64, attribs: { Name: 'Changed' } }, { id: 64, status: 'SKIPPED' }],
        ['INSERT', { type: 'Opportunity', externalKey: ['opportunityId', 'Opportunity_3'] }, { id: 64, status: 'SKIPPED', externalKey: ['opportunityId', 'Opportunity_3'] }],
        ['UPDATE', { type: 'Opportunity', id: 64, attribs: { Stage: 'Closed Won', IsWon: 'true' } }, { id: 64, status: 'UPDATED' }],
        ['UPDATE', { type: 'Opportunity', id: 64, attribs: { Stage: 'Closed Won', IsWon: '1', Amount: '2000.00' } }, { id: 64, status: 'UNCHANGED' }],
        ['UPDATE', { type: 'Opportunity', id: 999 }, { id: 999, status: 'SKIPPED' }],
        ['UPDATE', { type: 'Opportunity', externalKey: ['opportunityId', 'nope'] }, { id: 0, status: 'SKIPPED', externalKey: ['opportunityId', 'nope'] }],
        ['UPDATE', { type: 'Opportunity', attribs: { Name: 'no key' } }, { id: 0, status: 'SKIPPED' }],
        ['UPSERT', { type: 'Opportunity', externalKey: ['opportunityId', 'Opportunity_4'], attribs: { Name: 'Opportunity 4 for ACME' }, associations: [acme] }, { id: 66, status: 'CREATED', externalKey: ['opportunityId', 'Opportunity_4'] }],
        ['UPSERT', { type: 'Opportunity', externalKey: ['opportunityId', 'Opportunity_4'], attribs: { Amount: '501.00' } }, { id: 66, status: 'UPDATED', externalKey: ['opportunityId', 'Opportunity_4'] }],
        ['UPSERT', { type: 'Opportunity', externalKey: ['opportunityId', 'Opportunity_4'], attribs: { Amount: '501' }, associations: [acme] }, { id: 66, status: 'UNCHANGED', externalKey: ['opportunityId', 'Opportunity_4'] }],
        ['UPSERT', { type: 'Opportunity', id: 7, associations: [{ type: 'Company', id: 2 }] }, { id: 7, status: 'UPDATED' }]
      ]
      for (const [mode, obj, expected] of table) {
        assert.deepEqual(await sync(sim, mode, [obj]), [expected], `${mode} ${JSON.stringify(obj)}`)
      }
      assert.deepEqual(sim.store.opportunities.get(66), {
        id: 66,
        companyId: 1,
        createdAt: formatTimestamp(NOW),
        updatedAt: formatTimestamp(NOW),
        fields: { opportunityId: 'Opportunity_4', Name: 'Opportunity 4 for ACME', Amount: '501.00' }
      })
      assert.equal(sim.store.opportunities.get(64)?.fields.IsWon, '1')
      assert.equal(sim.store.opportunities.get(7)?.companyId, 2)
    })

    it('custom fields from describeMObject are accepted; bad fields and values FAIL with a reason', async () => {
      assert.deepEqual(await sync(sim, 'INSERT', [{ type: 'Opportunity', attribs: { Name: 'Custom', ProductLine: 'Tea', DealScore: '42', Probability: '80%', CloseDate: '2014-10-24' } }]), [{ id: 65, status: 'CREATED' }])
      const cases: [Parameters<typeof sync>[2][number], string][] = [
        [{ type: 'Opportunity', attribs: { Colour: 'red' } }, "Unknown field 'Colour' for Opportunity"],
        [{ type: 'Opportunity', attribs: { Amount: 'ten' } }, "Invalid value 'ten' for field 'Amount': expected a currency value"],
        [{ type: 'Opportunity', attribs: { CloseDate: '2014-02-30' } }, "Invalid value '2014-02-30' for field 'CloseDate': expected a date value"],
        [{ type: 'Opportunity', attribs: { IsWon: 'yes' } }, "Invalid value 'yes' for field 'IsWon': expected a boolean value"],
        [{ type: 'Opportunity', attribs: { ProductLine: 'x'.repeat(101) } }, `Invalid value '${'x'.repeat(80)}' for field 'ProductLine': expected at most 100 characters`],
        [{ type: 'Opportunity', attribs: { Id: '5' } }, "Field 'Id' of Opportunity is read-only"],
        [{ type: 'Opportunity', associations: [{ type: 'Company', id: 404 }] }, 'Company not found: id 404'],
        [{ type: 'Opportunity', associations: [{ type: 'Company', externalKey: ['cAccountFSID', 'C999'] }] }, 'Company not found: cAccountFSID=C999'],
        [{ type: 'Opportunity', associations: [{ type: 'Lead', id: 6 }] }, "Invalid association type 'Lead' for Opportunity: expected Company"],
        [{ type: 'Opportunity', externalKey: ['Colour', 'x'] }, "Unknown externalKey field 'Colour' for Opportunity"],
        [{ type: 'Opportunity', id: 999 }, 'Opportunity 999 not found: ids are assigned by Marketo, omit id to create'],
        [{ type: 'Lead', id: 6 }, "Invalid MObject type 'Lead': expected Program, Opportunity or OpportunityPersonRole"]
      ]
      for (const [obj, error] of cases) {
        const [s] = await sync(sim, 'UPSERT', [obj])
        assert.deepEqual(s.error, error)
        assert.equal(s.status, 'FAILED')
      }
      assert.equal(sim.store.opportunities.size, 4)
    })
  })

  describe('OpportunityPersonRole', () => {
    it('every mode, by attribs or associations, by id or external key', async () => {
      const table: [string, Parameters<typeof sync>[2][number], { id: number, status: string }][] = [
        ['INSERT', { type: 'OpportunityPersonRole', attribs: { OpportunityId: '64', PersonId: '19', Role: 'Influencer/Champion' } }, { id: 11, status: 'CREATED' }],
        ['INSERT', { type: 'OpportunityPersonRole', attribs: { OpportunityId: '64', PersonId: '19' } }, { id: 11, status: 'SKIPPED' }],
        ['UPDATE', { type: 'OpportunityPersonRole', id: 11, attribs: { Role: 'Decision Maker', IsPrimary: '1' } }, { id: 11, status: 'UPDATED' }],
        ['UPDATE', { type: 'OpportunityPersonRole', id: 11, attribs: { IsPrimary: 'true' } }, { id: 11, status: 'UNCHANGED' }],
        ['UPDATE', { type: 'OpportunityPersonRole', attribs: { OpportunityId: '7', PersonId: '6' } }, { id: 0, status: 'SKIPPED' }],
        ['UPDATE', { type: 'OpportunityPersonRole', id: 404 }, { id: 404, status: 'SKIPPED' }],
        ['UPSERT', { type: 'OpportunityPersonRole', attribs: { IsPrimary: '1', Role: 'Marketing Manager' }, associations: [{ type: 'Lead', externalKey: ['FSPID', '12346'] }, { type: 'Opportunity', externalKey: ['opportunityId', 'Opportunity_2'] }] }, { id: 12, status: 'CREATED' }],
        ['UPSERT', { type: 'OpportunityPersonRole', attribs: { Role: 'Buyer' }, associations: [{ type: 'Lead', id: 6 }, { type: 'Opportunity', id: 7 }] }, { id: 12, status: 'UPDATED' }]
      ]
      for (const [mode, obj, expected] of table) {
        assert.deepEqual(await sync(sim, mode, [obj]), [expected], `${mode} ${JSON.stringify(obj)}`)
      }
      assert.deepEqual(sim.store.roles.get(12), {
        id: 12, opportunityId: 7, personId: 6, createdAt: formatTimestamp(NOW), updatedAt: formatTimestamp(NOW), fields: { IsPrimary: '1', Role: 'Buyer' }
      })
    })

    it('FAILS when the opportunity or the person cannot be resolved', async () => {
      const cases: [Parameters<typeof sync>[2][number], string][] = [
        [{ type: 'OpportunityPersonRole', attribs: { PersonId: '19' } }, 'OpportunityId is required: give the OpportunityId attribute or an Opportunity association'],
        [{ type: 'OpportunityPersonRole', attribs: { OpportunityId: '64' } }, 'PersonId is required: give the PersonId attribute or a Lead association'],
        [{ type: 'OpportunityPersonRole', attribs: { OpportunityId: '404', PersonId: '19' } }, 'Opportunity not found: id 404'],
        [{ type: 'OpportunityPersonRole', attribs: { OpportunityId: '64', PersonId: '404' } }, 'Lead not found: id 404'],
        [{ type: 'OpportunityPersonRole', attribs: { PersonId: '19' }, associations: [{ type: 'Opportunity', externalKey: ['opportunityId', 'Opportunity_404'] }] }, 'Opportunity not found: opportunityId=Opportunity_404'],
        [{ type: 'OpportunityPersonRole', attribs: { OpportunityId: '64' }, associations: [{ type: 'Lead', externalKey: ['FSPID', '0'] }] }, 'Lead not found: FSPID=0'],
        [{ type: 'OpportunityPersonRole', attribs: { OpportunityId: 'x', PersonId: '19' } }, "Invalid value 'x' for field 'OpportunityId': expected an integer value"],
        [{ type: 'OpportunityPersonRole', attribs: { OpportunityId: '64', PersonId: '19' }, associations: [{ type: 'Company', id: 1 }] }, "Invalid association type 'Company' for OpportunityPersonRole: expected Lead or Opportunity"]
      ]
      for (const [obj, error] of cases) {
        assert.deepEqual(await sync(sim, 'UPSERT', [obj]), [{ id: 0, status: 'FAILED', error }], error)
      }
      assert.deepEqual(await sync(sim, 'UPSERT', [{ type: 'OpportunityPersonRole', externalKey: ['k', 'v'] }]), [
        { id: 0, status: 'FAILED', externalKey: ['k', 'v'], error: 'externalKey is not supported for OpportunityPersonRole: use id' }
      ])
      assert.equal(sim.store.roles.size, 1)
    })

    it('processes objects in order: a role may point to an opportunity created earlier in the same call', async () => {
      const opportunity = { type: 'Opportunity', externalKey: ['opportunityId', 'Opportunity_5'] as [string, string], attribs: { opportunityId: 'Opportunity_5', Name: 'Opportunity 5 for ACME', IsClosed: '1', IsWon: '1', Amount: '1500' } }
      const role = { type: 'OpportunityPersonRole', attribs: { IsPrimary: '1', Role: 'Marketing Manager' }, associations: [{ type: 'Lead', externalKey: ['FSPID', '12346'] as [string, string] }, { type: 'Opportunity', externalKey: ['opportunityId', 'Opportunity_5'] as [string, string] }] }
      const reply = await post(sim, syncXml('UPSERT', [opportunity, role]))
      assert.deepEqual(statusesOf(reply.body), [
        { id: 65, status: 'CREATED', externalKey: ['opportunityId', 'Opportunity_5'] },
        { id: 11, status: 'CREATED' }
      ])
      assert.deepEqual(await schemaErrors(reply.body), [])
      assert.deepEqual([sim.store.roles.get(11)?.opportunityId, sim.store.roles.get(11)?.personId], [65, 6])

      sim.reset()
      assert.deepEqual(await sync(sim, 'UPSERT', [role, opportunity]), [
        { id: 0, status: 'FAILED', error: 'Opportunity not found: opportunityId=Opportunity_5' },
        { id: 65, status: 'CREATED', externalKey: ['opportunityId', 'Opportunity_5'] }
      ])
    })
  })

  it('answers an empty mObjectList with an empty status list', async () => {
    const reply = await post(sim, syncXml('UPSERT', []))
    assert.match(reply.body, /<result><mObjStatusList><\/mObjStatusList><\/result>/)
    assert.deepEqual(await schemaErrors(reply.body), [])
  })

  it('keeps the error texts XML-safe and the response valid against the WSDL schema', async () => {
    const reply = await post(sim, syncXml('UPSERT', [{ type: 'Opportunity', attribs: { 'a&amp;b': '&lt;x&gt;' } }]))
    assert.deepEqual(statusesOf(reply.body), [{ id: 0, status: 'FAILED', error: "Unknown field 'a&amp;b' for Opportunity" }])
    assert.deepEqual(await schemaErrors(reply.body), [])
  })
})
