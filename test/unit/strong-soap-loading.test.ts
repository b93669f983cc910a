import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
// First import of strong-soap in this process (node --test runs each file in its own process).
import strongSoap, { UNUSED_HTTP_LIBRARIES } from '../../src/backends/soap/strong-soap.js'
import { MarketoSoapClient } from '../../src/backends/soap/soap-client.js'
import { BUNDLED_WSDL } from '../../src/config.js'
import { planOpportunities } from '../../src/http/mapping/opportunities.js'

const require = createRequire(import.meta.url)
const fromStrongSoapHttp = createRequire(require.resolve('strong-soap/src/http.js'))

describe('strong-soap as the gateway loads it', () => {
  it('does not load the libraries of strong-soap\'s own HTTP client; using them throws', () => {
    for (const name of UNUSED_HTTP_LIBRARIES) {
      const loaded = require.cache[fromStrongSoapHttp.resolve(name)]
      assert.ok(loaded !== undefined)
      assert.equal(typeof loaded.exports, 'function')
      assert.throws(() => loaded.exports(), /is not loaded: the gateway sends every SOAP call through its own httpClient/)
    }
  })

  it('still builds envelopes from the bundled WSDL (a dry run needs no HTTP)', async () => {
    assert.equal(typeof strongSoap.soap.createClient, 'function')
    const client = await MarketoSoapClient.create({
      wsdlPath: BUNDLED_WSDL,
      endpoint: 'http://127.0.0.1:9/soap/mktows/2_3',
      credentials: { userId: 'user', encryptionKey: 'key' },
      transport: { maxResponseBytes: 1024 * 1024, defaultTimeoutMs: 1_000 },
      now: () => new Date('2026-01-02T03:04:05Z')
    })
    try {
      const objects = planOpportunities({ operation: 'upsert', opportunities: [{ externalKey: { name: 'opportunityId', value: 'x-1' }, name: 'One' }] }).objects
      const envelope = await client.buildEnvelope('syncMObjects', { paramsSyncMObjects: { mObjectList: { mObject: objects.map((o) => ({ type: o.type, externalKey: o.externalKey })) }, operation: 'UPSERT' } })
      assert.match(envelope, /<ns1:paramsSyncMObjects[\s\S]*<value>x-1<\/value>[\s\S]*<operation>UPSERT<\/operation>/)
      assert.match(envelope, /<requestTimestamp>2026-01-02T03:04:05\+00:00<\/requestTimestamp>/)
      // A second dry run reuses the same client.
      assert.equal(await client.buildEnvelope('syncMObjects', { paramsSyncMObjects: { mObjectList: { mObject: [] }, operation: 'UPSERT' } }).then((e) => typeof e), 'string')
    } finally {
      client.close()
    }
  })
})
