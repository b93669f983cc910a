import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { kindOfDataType, opportunityFromMObject, programFromMObject, roleFromMObject } from '../../src/http/mapping/reads.js'
import { getMObjectsBody, parseDescribe, parseGetMObjects, type FieldMetadata } from '../../src/backends/soap/reads.js'
import { SoapProtocolError } from '../../src/backends/soap/soap-client.js'
import { criteriaInstant } from '../../src/http/routes/reads.js'
import { CursorCodec, filterHash } from '../../src/http/routes/cursor.js'
import { DescribeCache } from '../../src/upstream/describe-cache.js'
import { GatewayError } from '../../src/domain/errors.js'

const quiet = { debug () {}, info () {}, warn () {} }
const custom = (name: string, dataType: string): FieldMetadata => ({ name, dataType, size: null, readOnly: false, custom: true })

describe('opportunityFromMObject', () => {
  it('types standard fields by the table and custom fields by describeMObject', () => {
    const out = opportunityFromMObject({
      type: 'Opportunity',
      id: 64,
      createdAt: '2013-07-30T12:00:00.000Z',
      updatedAt: '2013-07-31T12:00:00.000Z',
      attribs: [
        { name: 'Name', value: 'Q1 2014' },
        { name: 'Amount', value: '2000.5' },
        { name: 'Probability', value: '80%' },
        { name: 'CloseDate', value: '2014-03-31' },
        { name: 'ExternalCreatedDate', value: '2014-01-02T03:04:05+00:00' },
        { name: 'FiscalQuarter', value: '2' },
        { name: 'IsWon', value: '0' },
        { name: 'IsClosed', value: 'true' },
        { name: 'Quantity', value: '' },
        { name: 'Description', value: '' },
        { name: 'Id', value: '64' },
        { name: 'UpdatedAt', value: '2013-07-31T12:00:00+00:00' },
        { name: 'DealScore', value: '7' },
        { name: 'Discounted', value: '1' },
        { name: 'Ratio', value: '0.25' },
        { name: 'Renewal', value: '2015-01-01' },
        { name: 'Region__c', value: '12' }
      ],
      associations: [{ mObjType: 'Company', id: 1 }]
    }, [custom('DealScore', 'integer'), custom('Discounted', 'boolean'), custom('Ratio', 'float'), custom('Renewal', 'date')])
    assert.deepStrictEqual(out, {
      id: 64,
      name: 'Q1 2014',
      amount: 2000.5,
      probability: 80,
      closeDate: '2014-03-31',
      externalCreatedDate: '2014-01-02',
      fiscalQuarter: 2,
      isWon: false,
      isClosed: true,
      description: '',
      customFields: { DealScore: 7, Discounted: true, Ratio: 0.25, Renewal: '2015-01-01', Region__c: '12' },
      company: { id: 1 },
      createdAt: '2013-07-30T12:00:00.000Z',
      updatedAt: '2013-07-31T12:00:00.000Z'
    })
  })

  it('echoes the external key it was looked up by, and prefers one Marketo returns', () => {
    const key = { name: 'opportunityId', value: 'X-1' }
    assert.deepStrictEqual(opportunityFromMObject({ type: 'Opportunity', id: 4 }, [], key), { id: 4, externalKey: key, customFields: {} })
    const own = { name: 'opportunityId', value: 'X-2' }
    assert.deepStrictEqual(opportunityFromMObject({ type: 'Opportunity', id: 4, externalKey: own }, [], key).externalKey, own)
  })

  it('throws a RangeError naming the field for a malformed upstream value', () => {
    assert.throws(() => opportunityFromMObject({ type: 'Opportunity', id: 1, attribs: [{ name: 'Amount', value: 'lots' }] }), /field Amount/)
    assert.throws(() => opportunityFromMObject({ type: 'Opportunity', id: 1, attribs: [{ name: 'DealScore', value: '1.5' }] }, [custom('DealScore', 'integer')]), RangeError)
  })
})

describe('kindOfDataType', () => {
  const table: Array<[string, string]> = [
    ['integer', 'integer'], ['currency', 'number'], ['float', 'number'], ['percent', 'number'], ['boolean', 'boolean'],
    ['date', 'date'], ['datetime', 'string'], ['string', 'string'], ['text', 'string'], ['email', 'string']
  ]
  for (const [dataType, kind] of table) it(`${dataType} → ${kind}`, () => assert.equal(kindOfDataType(dataType), kind))
})

describe('roleFromMObject', () => {
  it('maps role attribs', () => {
    assert.deepStrictEqual(roleFromMObject({
      type: 'OpportunityPersonRole',
      id: 10,
      attribs: [{ name: 'OpportunityId', value: '4' }, { name: 'PersonId', value: '19' }, { name: 'Role', value: 'Decision Maker' }, { name: 'IsPrimary', value: '1' }, { name: 'ExternalCreatedDate', value: '2013-07-01' }],
      createdAt: '2013-07-01T12:00:00.000Z'
    }), { id: 10, opportunityId: 4, personId: 19, role: 'Decision Maker', isPrimary: true, externalCreatedDate: '2013-07-01', createdAt: '2013-07-01T12:00:00.000Z' })
  })

  it('takes the opportunity and the person from associations when the attribs lack them', () => {
    assert.deepStrictEqual(roleFromMObject({
      type: 'OpportunityPersonRole', id: 11, associations: [{ mObjType: 'Opportunity', id: 64 }, { mObjType: 'Lead', id: 6 }]
    }), { id: 11, opportunityId: 64, personId: 6 })
  })
})

describe('programFromMObject', () => {
  it('maps attributes, tags, the channel and costs, and ignores other attrTypes', () => {
    assert.deepStrictEqual(programFromMObject({
      type: 'Program',
      id: 1970,
      attribs: [
        { name: 'Name', value: 'Summer Webinar Series' }, { name: 'Type', value: 'Event' }, { name: 'Workspace Id', value: '1' },
        { name: 'Workspace Name', value: 'Default' }, { name: 'Tree Path', value: '/MA/Default' }, { name: 'Is Archived', value: 'false' }
      ],
      typeAttribs: [
        { attrType: 'Tag', attribs: [{ name: 'Type', value: 'Region' }, { name: 'Value', value: 'EMEA' }] },
        { attrType: 'Tag', attribs: [{ name: 'Type', value: 'Channel' }, { name: 'Value', value: 'Webinar' }] },
        { attrType: 'Token', attribs: [{ name: 'Name', value: 't' }, { name: 'Value', value: '<p>' }] },
        { attrType: 'Cost', attribs: [{ name: 'Id', value: '152' }, { name: 'Month', value: '2013-05' }, { name: 'Amount', value: '1200.5' }, { name: 'Note', value: 'Kick-off' }] },
        { attrType: 'Cost', attribs: [{ name: 'Month', value: '2013-06' }, { name: 'Amount', value: '1500' }] }
      ]
    }), {
      id: 1970,
      name: 'Summer Webinar Series',
      type: 'Event',
      workspaceId: 1,
      workspaceName: 'Default',
      treePath: '/MA/Default',
      isArchived: false,
      channel: 'Webinar',
      tags: [{ type: 'Region', value: 'EMEA' }, { type: 'Channel', value: 'Webinar' }],
      costs: [{ id: 152, month: '2013-05', amount: 1200.5, note: 'Kick-off' }, { month: '2013-06', amount: 1500 }]
    })
  })
})

describe('getMObjects and describeMObject on the wire', () => {
  it('builds the params in schema order with only what is given', () => {
    const body = getMObjectsBody({
      type: 'Opportunity',
      criteria: [{ attrName: 'Stage', comparison: 'EQ', attrValue: 'Won' }],
      associations: [{ mObjType: 'Company', id: 1 }],
      streamPosition: 'abc'
    })
    assert.deepStrictEqual(body, {
      paramsGetMObjects: {
        type: 'Opportunity',
        mObjCriteriaList: { mObjCriteria: [{ attrName: 'Stage', comparison: 'EQ', attrValue: 'Won' }] },
        mObjAssociationList: { mObjAssociation: [{ mObjType: 'Company', id: 1 }] },
        streamPosition: 'abc'
      }
    })
    assert.deepStrictEqual(Object.keys(getMObjectsBody({ type: 'Program', id: 3, includeDetails: true }).paramsGetMObjects as object), ['type', 'id', 'includeDetails'])
  })

  it('parses a page, single objects and empty elements included', () => {
    const page = parseGetMObjects({
      result: {
        returnCount: 1,
        hasMore: true,
        newStreamPosition: 'next',
        mObjectList: { mObject: { type: 'Opportunity', id: 4, createdAt: new Date('2013-07-01T12:00:00Z'), attribList: { attrib: { name: 'Description', value: {} } } } }
      }
    })
    assert.deepStrictEqual(page, {
      hasMore: true,
      newStreamPosition: 'next',
      objects: [{ type: 'Opportunity', id: 4, createdAt: '2013-07-01T12:00:00.000Z', attribs: [{ name: 'Description', value: '' }] }]
    })
    assert.deepStrictEqual(parseGetMObjects({ result: { returnCount: 0, hasMore: false, newStreamPosition: 'x' } }), { objects: [], hasMore: false, newStreamPosition: 'x' })
  })

  it('refuses answers it cannot trust', () => {
    assert.throws(() => parseGetMObjects({ result: { returnCount: 2, hasMore: false, newStreamPosition: '', mObjectList: { mObject: [{ type: 'Opportunity', id: 4 }] } } }), SoapProtocolError)
    assert.throws(() => parseGetMObjects({ result: { returnCount: 1, hasMore: false, newStreamPosition: '', mObjectList: { mObject: [{ type: 'Opportunity' }] } } }), SoapProtocolError)
    assert.throws(() => parseGetMObjects({}), SoapProtocolError)
    assert.throws(() => parseDescribe({ result: {} }), SoapProtocolError)
  })

  it('parses describe fields with nil display names and sizes', () => {
    const meta = parseDescribe({
      result: {
        metadata: {
          name: 'Opportunity',
          fieldList: {
            field: [
              { name: 'Amount', description: 'Estimated', displayName: null, dataType: 'currency', size: null, isReadonly: false, isCustom: false },
              { name: 'DealScore', description: 'Score', displayName: 'Deal Score', dataType: 'integer', size: 10, isReadonly: false, isCustom: true }
            ]
          }
        }
      }
    })
    assert.deepStrictEqual(meta, {
      name: 'Opportunity',
      fields: [
        { name: 'Amount', description: 'Estimated', dataType: 'currency', size: null, readOnly: false, custom: false },
        { name: 'DealScore', description: 'Score', displayName: 'Deal Score', dataType: 'integer', size: 10, readOnly: false, custom: true }
      ]
    })
  })
})

describe('cursors', () => {
  const hash = filterHash('/opportunities', { stage: 'Won', limit: 10, cursor: 'x' })

  it('ignore limit and cursor in the filter hash, and key order', () => {
    assert.equal(hash, filterHash('/opportunities', { limit: 99, stage: 'Won' }))
    assert.notEqual(hash, filterHash('/opportunities', { stage: 'Lost' }))
    assert.notEqual(hash, filterHash('/programs', { stage: 'Won' }))
  })

  const codec = new CursorCodec()
  const refused = (cursor: string, message: RegExp = /not a cursor this gateway issued/) =>
    assert.throws(() => codec.decode(cursor, hash), (err: GatewayError) => err.code === 'VALIDATION_FAILED' && err.errors?.[0].path === 'querystring:/cursor' && message.test(err.message))
  const open = (cursor: string): Record<string, unknown> => JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  const seal = (raw: Record<string, unknown>): string => Buffer.from(JSON.stringify(raw)).toString('base64url')

  it('round-trip with the same filters only', () => {
    const cursor = codec.encode({ sp: 'pos', o: 30, a: 77 }, hash)
    assert.match(cursor, /^[A-Za-z0-9_-]+$/)
    assert.deepStrictEqual(codec.decode(cursor, hash), { sp: 'pos', o: 30, a: 77 })
    assert.deepStrictEqual(codec.decode(codec.encode({ o: 0 }, hash), hash), { o: 0 })
    assert.throws(() => codec.decode(cursor, filterHash('/opportunities', { stage: 'Lost' })), (err: GatewayError) => err.code === 'VALIDATION_FAILED' && /other filters/.test(err.message))
    for (const bad of ['bm9wZQ', Buffer.from('{"o":-1,"f":"x"}').toString('base64url'), Buffer.from('null').toString('base64url')]) refused(bad)
  })

  it('refuse a cursor whose position, filter hash or MAC was edited (issue #12, defect 5)', () => {
    const raw = open(codec.encode({ sp: 'pos', o: 30, a: 77 }, hash))
    assert.equal(typeof raw.m, 'string')
    refused(seal({ ...raw, o: 40 }))
    refused(seal({ ...raw, a: 78 }))
    refused(seal({ ...raw, sp: 'pos2' }))
    refused(seal({ ...raw, sp: undefined }))
    refused(seal({ ...raw, a: undefined }))
    refused(seal({ ...raw, m: undefined }))
    refused(seal({ ...raw, m: '' }))
    refused(seal({ ...raw, m: Buffer.alloc(16).toString('base64url') }))
    // Moved to other filters with the hash recomputed: the MAC covers the hash too.
    const other = filterHash('/opportunities', { stage: 'Lost' })
    assert.throws(() => codec.decode(seal({ ...raw, f: other }), other), (err: GatewayError) => /not a cursor this gateway issued/.test(err.message))
  })

  it('refuse a cursor signed with another key (another process, or before a restart)', () => {
    refused(new CursorCodec().encode({ o: 10, a: 7 }, hash))
    const key = Buffer.alloc(32, 7)
    assert.deepStrictEqual(new CursorCodec(key).decode(new CursorCodec(Buffer.from(key)).encode({ o: 10, a: 7 }, hash), hash), { o: 10, a: 7 })
    assert.throws(() => new CursorCodec(Buffer.alloc(8)), RangeError)
  })

  it('criteria instants are W3C UTC', () => {
    assert.equal(criteriaInstant('2013-07-02'), '2013-07-02T00:00:00+00:00')
    assert.equal(criteriaInstant('2013-07-02T14:00:00+02:00'), '2013-07-02T12:00:00+00:00')
  })
})

describe('DescribeCache', () => {
  function source () {
    const calls: string[] = []
    let fail = false
    return {
      calls,
      failNext () { fail = true },
      async describe (name: string) {
        calls.push(name)
        if (fail) { fail = false; throw new Error('down') }
        return { name, fields: [custom('X', 'string')] }
      }
    }
  }

  it('serves from the cache until the TTL passes, sharing concurrent misses', async () => {
    let now = 1_000
    const src = source()
    const cache = new DescribeCache(src, 60_000, () => now)
    const [a, b] = await Promise.all([cache.get('Opportunity', Infinity, quiet), cache.get('Opportunity', Infinity, quiet)])
    assert.equal(a, b)
    assert.deepStrictEqual(src.calls, ['Opportunity'])
    now += 59_999
    await cache.get('Opportunity', Infinity, quiet)
    assert.equal(src.calls.length, 1)
    now += 1
    await cache.get('Opportunity', Infinity, quiet)
    assert.equal(src.calls.length, 2)
  })

  it('does not cache a failure, and caches nothing with a TTL of 0', async () => {
    const src = source()
    const cache = new DescribeCache(src, 60_000)
    src.failNext()
    await assert.rejects(cache.get('Program', Infinity, quiet), /down/)
    await cache.get('Program', Infinity, quiet)
    assert.equal(src.calls.length, 2)
    const none = new DescribeCache(src, 0)
    await none.get('Program', Infinity, quiet)
    await none.get('Program', Infinity, quiet)
    assert.equal(src.calls.length, 4)
  })
})
