import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import strongSoap, { type Client } from 'strong-soap'
import { signRequest } from '../../src/backends/soap/signing.js'
import { DEMO_ENCRYPTION_KEY, DEMO_USER_ID } from '../../simulator/index.js'
import { NOW, start } from './helpers.js'

const MKTOWS = 'http://www.marketo.com/mktows/'

function createClient (wsdlUrl: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    strongSoap.soap.createClient(wsdlUrl, {}, (err, client) => { if (err) reject(err); else resolve(client) })
  })
}

// The header is part of the envelope built synchronously by the call, so set it right before.
function call (client: Client, operation: string, args: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    client.clearSoapHeaders()
    client.addSoapHeader(signRequest(DEMO_USER_ID, DEMO_ENCRYPTION_KEY, NOW), new strongSoap.QName(MKTOWS, 'AuthenticationHeader'))
    client[operation](args, (err: Error | null, result: unknown) => { if (err) reject(err); else resolve(result) })
  })
}

describe('a strong-soap client built from the served WSDL', () => {
  it('calls all four operations', async (t) => {
    const sim = await start(t)
    const client = await createClient(sim.wsdlUrl)

    const synced = await call(client, 'syncMObjects', {
      paramsSyncMObjects: {
        mObjectList: {
          mObject: [
            { type: 'Program', id: 1970, typeAttribList: { typeAttrib: [{ attrType: 'Cost', attrList: { attrib: [{ name: 'Month', value: '2013-06' }, { name: 'Amount', value: '2000' }, { name: 'Id', value: '153' }] } }] } },
            { type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'SOAP_1' }, attribList: { attrib: [{ name: 'Name', value: 'Via strong-soap' }] } }
          ]
        },
        operation: 'UPSERT'
      }
    })
    assert.deepEqual(JSON.parse(JSON.stringify(synced)), {
      result: {
        mObjStatusList: {
          mObjStatus: [
            { id: 1970, status: 'FAILED', error: 'Program can only be synced in UPDATE mode, not UPSERT' },
            { id: 65, externalKey: { name: 'opportunityId', value: 'SOAP_1' }, status: 'CREATED' }
          ]
        }
      }
    })

    const described = await call(client, 'describeMObject', { paramsDescribeMObject: { objectName: 'Opportunity' } })
    assert.equal(described.result.metadata.name, 'Opportunity')
    assert.ok(described.result.metadata.fieldList.field.some((f: { name: string, isCustom: boolean }) => f.name === 'opportunityId' && f.isCustom === true))

    const got = await call(client, 'getMObjects', { paramsGetMObjects: { type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'SOAP_1' } } })
    assert.equal(got.result.returnCount, 1)
    assert.equal(got.result.hasMore, false)
    assert.equal(got.result.mObjectList.mObject[0]?.id ?? got.result.mObjectList.mObject.id, 65)

    const deleted = await call(client, 'deleteMObjects', { paramsDeleteMObjects: { mObjectList: { mObject: [{ type: 'Opportunity', id: 65 }] } } })
    assert.deepEqual(JSON.parse(JSON.stringify(deleted)), { result: { mObjStatusList: { mObjStatus: [{ id: 65, status: 'DELETED' }] } } })

    await assert.rejects(call(client, 'getLead', { paramsGetLead: { leadKey: { keyType: 'IDNUM', keyValue: '1' } } }), (err: any) => {
      assert.equal(err.response?.statusCode, 500)
      assert.equal(err.root?.Envelope?.Body?.Fault?.detail?.serviceException?.code, '20019')
      return true
    })
    assert.deepEqual(sim.ledger.map((e) => e.operation), ['syncMObjects', 'describeMObject', 'getMObjects', 'deleteMObjects', 'getLead'])
  })
})
