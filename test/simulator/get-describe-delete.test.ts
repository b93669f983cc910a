import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { envelope, faultCodeOf, post, schemaErrors, start, sync } from './helpers.js'

const ids = (xml: string): number[] => [...xml.matchAll(/<mObject><type>\w+<\/type><id>(\d+)<\/id>/g)].map((m) => Number(m[1]))
const tag = (xml: string, name: string): string | undefined => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1]

describe('describeMObject', () => {
  it('lists the standard and the custom Opportunity fields, valid against the WSDL schema', async (t) => {
    const sim = await start(t)
    const reply = await post(sim, envelope('<ns1:paramsDescribeMObject><objectName>Opportunity</objectName></ns1:paramsDescribeMObject>'), 'describeMObject')
    assert.equal(reply.status, 200)
    assert.deepEqual(await schemaErrors(reply.body), [])
    const fields = [...reply.body.matchAll(/<field><name>([^<]+)<\/name>[\s\S]*?<isCustom>(true|false)<\/isCustom>/g)].map((m) => [m[1], m[2]])
    assert.deepEqual(fields, [
      ['Id', 'false'], ['Amount', 'false'], ['CloseDate', 'false'], ['Description', 'false'], ['ExpectedRevenue', 'false'],
      ['ExternalCreatedDate', 'false'], ['Fiscal', 'false'], ['FiscalQuarter', 'false'], ['FiscalYear', 'false'],
      ['ForecastCategoryName', 'false'], ['IsClosed', 'false'], ['IsWon', 'false'], ['LastActivityDate', 'false'],
      ['LeadSource', 'false'], ['Name', 'false'], ['NextStep', 'false'], ['Probability', 'false'], ['Quantity', 'false'],
      ['Stage', 'false'], ['Type', 'false'], ['CreatedAt', 'false'], ['UpdatedAt', 'false'],
      ['opportunityId', 'true'], ['cAccountFSID', 'true'], ['ProductLine', 'true'], ['DealScore', 'true']
    ])
    assert.match(reply.body, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http:\/\/schemas.xmlsoap.org\/soap\/envelope\/" xmlns:ns1="http:\/\/www.marketo.com\/mktows\/" xmlns:xsi="http:\/\/www.w3.org\/2001\/XMLSchema-instance"><SOAP-ENV:Body><ns1:successDescribeMObject><result><metadata><name>Opportunity<\/name>/)
    assert.match(reply.body, /<field><name>Name<\/name><description>Name of the opportunity<\/description><displayName xsi:nil="true"\/><sourceObject>Opportunity<\/sourceObject><dataType>string<\/dataType><size>255<\/size><isReadonly>false<\/isReadonly><isUpdateBlocked>false<\/isUpdateBlocked><isName>true<\/isName><isPrimaryKey>false<\/isPrimaryKey><isCustom>false<\/isCustom><isDynamic>false<\/isDynamic><dynamicFieldRef xsi:nil="true"\/><updatedAt>2014-01-01T00:00:00\+00:00<\/updatedAt><\/field>/)
  })

  it('describes OpportunityPersonRole and Program too', async (t) => {
    const sim = await start(t)
    for (const [name, count] of [['OpportunityPersonRole', 8], ['Program', 7]] as const) {
      const reply = await post(sim, envelope(`<ns1:paramsDescribeMObject><objectName>${name}</objectName></ns1:paramsDescribeMObject>`))
      assert.equal([...reply.body.matchAll(/<field>/g)].length, count)
      assert.deepEqual(await schemaErrors(reply.body), [])
    }
  })
})

describe('getMObjects', () => {
  const get = (inner: string): string => envelope(`<ns1:paramsGetMObjects>${inner}</ns1:paramsGetMObjects>`)

  it('pages 100 at a time with streamPosition', async (t) => {
    const sim = await start(t)
    for (let i = 0; i < 3; i++) {
      const batch = Array.from({ length: i < 2 ? 100 : 47 }, (_, j) => ({ type: 'Opportunity', attribs: { Name: `Bulk ${i}-${j}` } }))
      assert.ok((await sync(sim, 'INSERT', batch)).every((s) => s.status === 'CREATED'))
    }
    const seen: number[] = []
    let position: string | undefined
    const pages: [string | undefined, string | undefined][] = []
    for (;;) {
      const reply = await post(sim, get('<type>Opportunity</type>' + (position ? `<streamPosition>${position}</streamPosition>` : '')), 'getMObjects')
      assert.equal(reply.status, 200, reply.body)
      if (!position) assert.deepEqual(await schemaErrors(reply.body), [])
      pages.push([tag(reply.body, 'returnCount'), tag(reply.body, 'hasMore')])
      seen.push(...ids(reply.body))
      if (tag(reply.body, 'hasMore') === 'false') break
      position = tag(reply.body, 'newStreamPosition')
    }
    assert.deepEqual(pages, [['100', 'true'], ['100', 'true'], ['50', 'false']])
    assert.deepEqual(seen, [4, 7, 64, ...Array.from({ length: 247 }, (_, i) => 65 + i)])
    // A position belongs to its query.
    const other = await post(sim, get(`<type>Opportunity</type><id>4</id><streamPosition>${position}</streamPosition>`))
    assert.equal(faultCodeOf(other.body), 20122)
  })

  it('filters Programs by criteria as in the doc example, and by tag', async (t) => {
    const sim = await start(t)
    const doc = await post(sim, get('<type>Program</type><mObjCriteriaList><mObjCriteria><attrName>Id</attrName><comparison>LE</comparison><attrValue>1010</attrValue></mObjCriteria><mObjCriteria><attrName>Name</attrName><comparison>NE</comparison><attrValue>elizprogramtest</attrValue></mObjCriteria></mObjCriteriaList>'))
    assert.deepEqual(ids(doc.body), [1001, 1002])
    assert.match(doc.body, /<mObject><type>Program<\/type><id>1001<\/id><createdAt>2013-05-02T10:00:00\+00:00<\/createdAt><updatedAt>2013-05-02T10:00:00\+00:00<\/updatedAt><attribList><attrib><name>Name<\/name><value>Program01<\/value><\/attrib><attrib><name>Type<\/name><value>Marketing Program<\/value><\/attrib><attrib><name>Workspace Id<\/name><value>1<\/value><\/attrib><attrib><name>Workspace Name<\/name><value>Default<\/value><\/attrib><attrib><name>Tree Path<\/name><value>\/Marketing Activities\/Default\/Training\/Program01<\/value><\/attrib><attrib><name>Is Archived<\/name><value>false<\/value><\/attrib><\/attribList><typeAttribList><typeAttrib><attrType>Tag<\/attrType><attrList><attrib><name>Type<\/name><value>Channel<\/value><\/attrib><attrib><name>Value<\/name><value>Content<\/value><\/attrib><\/attrList><\/typeAttrib><\/typeAttribList><\/mObject>/)
    const byTag = await post(sim, get('<type>Program</type><mObjCriteriaList><mObjCriteria><attrName>Tag Value</attrName><comparison>EQ</comparison><attrValue>Webinar</attrValue></mObjCriteria></mObjCriteriaList><includeDetails>true</includeDetails>'))
    assert.deepEqual(ids(byTag.body), [1970])
    assert.match(byTag.body, /<typeAttrib><attrType>Cost<\/attrType><attrList><attrib><name>Id<\/name><value>153<\/value><\/attrib><attrib><name>Month<\/name><value>2013-06<\/value><\/attrib><attrib><name>Amount<\/name><value>1500<\/value><\/attrib><\/attrList><\/typeAttrib>/)
    assert.deepEqual(await schemaErrors(byTag.body), [])
  })

  it('finds Opportunities by id, externalKey, criteria and Company; roles by association', async (t) => {
    const sim = await start(t)
    const cases: [string, number[]][] = [
      ['<type>Opportunity</type><id>64</id>', [64]],
      ['<type>Opportunity</type><externalKey><name>opportunityId</name><value>Opportunity_2</value></externalKey>', [7]],
      ['<type>Opportunity</type><mObjCriteriaList><mObjCriteria><attrName>Amount</attrName><comparison>GE</comparison><attrValue>1000</attrValue></mObjCriteria></mObjCriteriaList>', [4, 64]],
      ['<type>Opportunity</type><mObjAssociationList><mObjAssociation><mObjType>Company</mObjType><externalKey><name>cAccountFSID</name><value>C123</value></externalKey></mObjAssociation></mObjAssociationList>', [64]],
      ['<type>OpportunityPersonRole</type><mObjAssociationList><mObjAssociation><mObjType>Lead</mObjType><id>19</id></mObjAssociation></mObjAssociationList>', [10]],
      ['<type>OpportunityPersonRole</type><mObjAssociationList><mObjAssociation><mObjType>Lead</mObjType><id>6</id></mObjAssociation></mObjAssociationList>', []]
    ]
    for (const [inner, expected] of cases) {
      const reply = await post(sim, get(inner))
      assert.deepEqual(ids(reply.body), expected, inner)
    }
    const role = await post(sim, get('<type>OpportunityPersonRole</type><id>10</id>'))
    assert.deepEqual(await schemaErrors(role.body), [])
    assert.match(role.body, /<mObject><type>OpportunityPersonRole<\/type><id>10<\/id><createdAt>[^<]+<\/createdAt><updatedAt>[^<]+<\/updatedAt><attribList><attrib><name>OpportunityId<\/name><value>4<\/value><\/attrib><attrib><name>PersonId<\/name><value>19<\/value><\/attrib><attrib><name>Role<\/name><value>Decision Maker<\/value><\/attrib><attrib><name>IsPrimary<\/name><value>1<\/value><\/attrib><\/attribList><associationList><mObjAssociation><mObjType>Opportunity<\/mObjType><id>4<\/id><\/mObjAssociation><mObjAssociation><mObjType>Lead<\/mObjType><id>19<\/id><\/mObjAssociation><\/associationList><\/mObject>/)
    const bad = await post(sim, get('<type>Opportunity</type><mObjCriteriaList><mObjCriteria><attrName>Colour</attrName><comparison>EQ</comparison><attrValue>x</attrValue></mObjCriteria></mObjCriteriaList>'))
    assert.equal(faultCodeOf(bad.body), 20110)
  })
})

describe('deleteMObjects', () => {
  it('deletes as in the doc example, then answers UNCHANGED; Program and missing ids FAIL', async (t) => {
    const sim = await start(t)
    const doc = envelope('<ns1:paramsDeleteMObjects><mObjectList><mObject><type>Opportunity</type><id>4</id></mObject><mObject><type>Opportunity</type><id>7</id></mObject></mObjectList></ns1:paramsDeleteMObjects>')
    const first = await post(sim, doc, 'deleteMObjects')
    assert.equal(first.body, '<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="http://www.marketo.com/mktows/"><SOAP-ENV:Body><ns1:successDeleteMObjects><result><mObjStatusList><mObjStatus><id>4</id><status>DELETED</status></mObjStatus><mObjStatus><id>7</id><status>DELETED</status></mObjStatus></mObjStatusList></result></ns1:successDeleteMObjects></SOAP-ENV:Body></SOAP-ENV:Envelope>\n')
    assert.deepEqual(await schemaErrors(first.body), [])
    assert.deepEqual([...sim.store.opportunities.keys()], [64])
    assert.equal(sim.store.roles.size, 0, 'roles of a deleted opportunity go with it')
    const second = await post(sim, doc, 'deleteMObjects')
    assert.match(second.body, /<mObjStatus><id>4<\/id><status>UNCHANGED<\/status><\/mObjStatus><mObjStatus><id>7<\/id><status>UNCHANGED<\/status><\/mObjStatus>/)
    const other = await post(sim, envelope('<ns1:paramsDeleteMObjects><mObjectList><mObject><type>Program</type><id>1970</id></mObject><mObject><type>OpportunityPersonRole</type></mObject></mObjectList></ns1:paramsDeleteMObjects>'))
    assert.match(other.body, /<mObjStatus><id>1970<\/id><status>FAILED<\/status><error>Delete is not supported for MObject type 'Program': expected Opportunity or OpportunityPersonRole<\/error><\/mObjStatus><mObjStatus><id>0<\/id><status>FAILED<\/status><error>OpportunityPersonRole id is required<\/error><\/mObjStatus>/)
  })
})
