import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { computeSignature } from '../../src/backends/soap/signing.js'
import { DEMO_USER_ID } from '../../simulator/index.js'
import { authHeader, envelope, faultBody, faultCodeOf, NOW, post, start, syncXml } from './helpers.js'

interface Vector { mktowsUserId: string, encryptionKey: string, requestTimestamp: string, requestSignature: string }
const { vectors } = JSON.parse(readFileSync(new URL('../fixtures/signature-test-vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] }

const describeBody = '<ns1:paramsDescribeMObject><objectName>Opportunity</objectName></ns1:paramsDescribeMObject>'
const PROGRAM_1970 = { type: 'Program', id: 1970, typeAttribs: [['Tag', { Type: 'Channel', Value: 'Webinar' }]] as [string, Record<string, string>][] }

describe('authentication', () => {
  it('verifies all 18 documented signature vectors with the clock at their time', async (t) => {
    assert.equal(vectors.length, 18)
    let now = NOW
    const sim = await start(t, { clock: () => now })
    for (const v of vectors) {
      now = new Date(v.requestTimestamp)
      const header = `<ns1:AuthenticationHeader><mktowsUserId>${v.mktowsUserId}</mktowsUserId><requestSignature>${v.requestSignature}</requestSignature><requestTimestamp>${v.requestTimestamp}</requestTimestamp></ns1:AuthenticationHeader>`
      const reply = await post(sim, syncXml('UPDATE', [PROGRAM_1970], header))
      assert.equal(reply.status, 200, `${v.requestTimestamp}: ${reply.body}`)
    }
  })

  const AUTH_FAILED = faultBody(20014, '20014 - Authentication failed', 'Authentication failed (20014)')

  it('20014 for an unknown user, a bad signature, an uppercase signature, a signature for another timestamp', async (t) => {
    const sim = await start(t)
    const good = computeSignature('27272727aa', '2024-05-01T12:00:00+00:00', DEMO_USER_ID)
    const headers = [
      authHeader({ userId: 'someone_else' }),
      authHeader({ key: 'wrong-key' }),
      authHeader({ signature: good.toUpperCase() }),
      authHeader({ signature: '' }),
      authHeader({ timestamp: '2024-05-01T12:00:01+00:00', signature: good })
    ]
    for (const h of headers) {
      const reply = await post(sim, syncXml('UPDATE', [PROGRAM_1970], h))
      assert.equal(reply.status, 500)
      assert.equal(reply.headers.get('content-type'), 'text/xml; charset=utf-8')
      assert.equal(reply.body, AUTH_FAILED)
    }
    assert.deepEqual(sim.store.snapshot().programs, sim.store.seed.programs)
    assert.deepEqual(sim.stats.faultsByCode, { 20014: 5 })
  })

  it('20016 when the timestamp is outside the window, either way; the window is configurable', async (t) => {
    const sim = await start(t)
    const expired = faultBody(20016, '20016 - Request expired', 'Request has expired (20016)')
    for (const offset of [-15 * 60_000 - 1_000, 15 * 60_000 + 1_000]) {
      const reply = await post(sim, syncXml('UPDATE', [PROGRAM_1970], authHeader({ now: new Date(NOW.getTime() + offset) })))
      assert.deepEqual([reply.status, reply.body], [500, expired])
    }
    for (const offset of [-15 * 60_000, 14 * 60_000]) {
      const reply = await post(sim, syncXml('UPDATE', [PROGRAM_1970], authHeader({ now: new Date(NOW.getTime() + offset) })))
      assert.equal(reply.status, 200)
    }
    const strict = await start(t, { timestampWindowMs: 1_000 })
    assert.equal(faultCodeOf((await post(strict, syncXml('UPDATE', [PROGRAM_1970], authHeader({ now: new Date(NOW.getTime() - 2_000) })))).body), 20016)
    // Any W3C offset form signs and verifies as sent.
    const reply = await post(sim, syncXml('UPDATE', [PROGRAM_1970], authHeader({ timestamp: '2024-05-01T05:00:00-07:00' })))
    assert.equal(reply.status, 200)
  })

  it('20017 when the AuthenticationHeader is missing or incomplete', async (t) => {
    const sim = await start(t)
    const invalid = faultBody(20017, '20017 - Invalid request', 'AuthenticationHeader is missing or incomplete (20017)')
    const partial = `<ns1:AuthenticationHeader><mktowsUserId>${DEMO_USER_ID}</mktowsUserId></ns1:AuthenticationHeader>`
    for (const header of [null, '', partial, authHeader().replaceAll('ns1:', 'other:').replace('<other:', '<other:').replace('<other:AuthenticationHeader>', '<other:AuthenticationHeader xmlns:other="urn:x">')]) {
      const reply = await post(sim, syncXml('UPDATE', [PROGRAM_1970], header))
      assert.deepEqual([reply.status, reply.body], [500, invalid])
    }
  })

  it('20014 for an unparseable but correctly signed timestamp', async (t) => {
    const sim = await start(t)
    const reply = await post(sim, syncXml('UPDATE', [PROGRAM_1970], authHeader({ timestamp: 'yesterday' })))
    assert.equal(reply.body, faultBody(20014, '20014 - Authentication failed', 'Authentication failed: requestTimestamp is not a W3C date-time (20014)'))
  })
})

describe('parsing and faults', () => {
  it('accepts any prefix for the envelope and Marketo namespaces, default namespaces and qualified children', async (t) => {
    const sim = await start(t)
    const variants = [
      `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:mkt="http://www.marketo.com/mktows/"><soapenv:Header>${authHeader().replaceAll('ns1:', 'mkt:')}</soapenv:Header><soapenv:Body>${describeBody.replaceAll('ns1:', 'mkt:')}</soapenv:Body></soapenv:Envelope>`,
      `<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Header><AuthenticationHeader xmlns="http://www.marketo.com/mktows/">${authHeader().replace(/<\/?ns1:AuthenticationHeader>/g, '')}</AuthenticationHeader></e:Header><e:Body><tns:paramsDescribeMObject xmlns:tns="http://www.marketo.com/mktows/"><tns:objectName>Opportunity</tns:objectName></tns:paramsDescribeMObject></e:Body></e:Envelope>`
    ]
    for (const xml of variants) {
      const reply = await post(sim, xml, 'describeMObject')
      assert.equal(reply.status, 200, reply.body)
      assert.match(reply.body, /<ns1:successDescribeMObject>/)
    }
  })

  const notUnderstood = (message: string): string => faultBody(20012, '20012 - Request not understood', `${message} (20012)`)

  it('20012 for malformed XML, a DOCTYPE, a foreign envelope, an empty body, deep nesting', async (t) => {
    const sim = await start(t)
    const cases: [string, string][] = [
      ['<SOAP-ENV:Envelope', 'Request XML is not well-formed'],
      ['', 'Request XML is not well-formed'],
      [envelope(describeBody).replace('</SOAP-ENV:Body>', ''), 'Request XML is not well-formed'],
      ['<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + envelope(describeBody).replace(/^<\?xml[^>]*>\n/, ''), 'DOCTYPE is not allowed'],
      [envelope(describeBody).replace(/^<\?xml[^>]*>\n/, '').replace('<ns1:paramsDescribeMObject><objectName>Opportunity', '<ns1:paramsDescribeMObject><objectName>&undefined;'), 'Request XML is not well-formed'],
      ['<Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Body/></Envelope>', 'Not a SOAP 1.1 envelope'],
      [envelope(''), 'SOAP Body is empty'],
      [envelope('<other:thing xmlns:other="urn:other"/>'), 'Unexpected element thing in SOAP Body'],
      [envelope('<ns1:paramsGetLead>' + '<a>'.repeat(100) + '</a>'.repeat(100) + '</ns1:paramsGetLead>'), 'Request nesting is too deep']
    ]
    for (const [xml, message] of cases) {
      const reply = await post(sim, xml)
      assert.deepEqual([reply.status, reply.body], [500, notUnderstood(message)], message)
      assert.doesNotMatch(reply.body, /at .*\.(ts|js):\d+/)
    }
  })

  it('20012 with Connection: close for a body over the cap, whether declared or streamed', async (t) => {
    const sim = await start(t, { maxBodyBytes: 2_000 })
    const big = syncXml('UPDATE', Array.from({ length: 40 }, () => PROGRAM_1970))
    const reply = await post(sim, big)
    assert.deepEqual([reply.status, reply.body], [500, notUnderstood('Request body exceeds 2000 bytes')])
    assert.equal(reply.headers.get('connection'), 'close')
    const chunked = await new Promise<{ status?: number, body: string }>((resolve, reject) => {
      const req = request(sim.endpoint, { method: 'POST', headers: { 'Content-Type': 'text/xml' } }, (res) => {
        let body = ''
        res.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => resolve({ status: res.statusCode, body }))
      })
      req.on('error', reject)
      req.write(big.slice(0, 1_500))
      req.end(big.slice(1_500))
    })
    assert.deepEqual(chunked, { status: 500, body: notUnderstood('Request body exceeds 2000 bytes') })
    assert.equal(sim.ledger.length, 2)
  })

  it('20018 for a body that is not UTF-8', async (t) => {
    const sim = await start(t)
    const bytes = Buffer.concat([Buffer.from(envelope(describeBody).slice(0, 200)), Buffer.from([0xff, 0xfe]), Buffer.from(envelope(describeBody).slice(200))])
    const reply = await post(sim, bytes)
    assert.deepEqual([reply.status, reply.body], [500, faultBody(20018, '20018 - Bad encoding', 'Request is not valid UTF-8 (20018)')])
  })

  it('20019 for every other operation of the WSDL and for operations outside it', async (t) => {
    const sim = await start(t)
    const others = ['getLead', 'syncLead', 'getTags', 'listMObjects', 'getCustomObjects', 'mergeLeads']
    for (const op of others) {
      const params = `params${op[0].toUpperCase()}${op.slice(1)}`
      const reply = await post(sim, envelope(`<ns1:${params}/>`), op)
      assert.deepEqual([reply.status, reply.body], [500, faultBody(20019, '20019 - Unsupported operation', `Operation ${op} is not supported by this simulator (20019)`)])
    }
    const reply = await post(sim, envelope('<ns1:paramsLaunchRocket/>'))
    assert.equal(reply.body, faultBody(20019, '20019 - Unsupported operation', 'Operation launchRocket is not defined in the Marketo API WSDL (20019)'))
  })

  it('20109 and 20110 for missing or bad parameters', async (t) => {
    const sim = await start(t)
    const cases: [string, number, string, string][] = [
      ['<ns1:paramsSyncMObjects><operation>UPDATE</operation></ns1:paramsSyncMObjects>', 20109, 'Parameter required', 'mObjectList is required'],
      ['<ns1:paramsSyncMObjects><mObjectList/></ns1:paramsSyncMObjects>', 20109, 'Parameter required', 'operation is required'],
      ['<ns1:paramsSyncMObjects><mObjectList/><operation>MERGE</operation></ns1:paramsSyncMObjects>', 20110, 'Input error', 'Invalid sync operation: MERGE'],
      ['<ns1:paramsSyncMObjects><mObjectList><mObject><type>Opportunity</type><id>abc</id></mObject></mObjectList><operation>UPDATE</operation></ns1:paramsSyncMObjects>', 20110, 'Input error', 'MObject id is not a valid integer: abc'],
      ['<ns1:paramsDescribeMObject/>', 20109, 'Parameter required', 'objectName is required'],
      ['<ns1:paramsDescribeMObject><objectName>Spaceship</objectName></ns1:paramsDescribeMObject>', 20110, 'Input error', 'Object name is not valid'],
      ['<ns1:paramsGetMObjects><type>Spaceship</type></ns1:paramsGetMObjects>', 20110, 'Input error', 'Object name is not valid'],
      ['<ns1:paramsGetMObjects><type>Opportunity</type><streamPosition>garbage</streamPosition></ns1:paramsGetMObjects>', 20122, 'Bad stream position', 'Stream position is bad']
    ]
    for (const [body, code, text, message] of cases) {
      const reply = await post(sim, envelope(body))
      assert.deepEqual([reply.status, reply.body], [500, faultBody(code, `${code} - ${text}`, `${message} (${code})`)], message)
    }
  })

  it('keeps connections alive across calls, faults included', async (t) => {
    const sim = await start(t)
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    t.after(() => agent.destroy())
    const call = (xml: string): Promise<number | undefined> => new Promise((resolve, reject) => {
      const req = request(sim.endpoint, { method: 'POST', agent, headers: { 'Content-Type': 'text/xml' } }, (res) => {
        res.resume().on('end', () => resolve(res.statusCode))
      })
      req.on('error', reject)
      req.end(xml)
    })
    const statuses = []
    for (let i = 0; i < 5; i++) {
      statuses.push(await call(envelope(describeBody)), await call(envelope(describeBody, null)))
    }
    assert.deepEqual(statuses, [200, 500, 200, 500, 200, 500, 200, 500, 200, 500])
    assert.equal(sim.stats.acceptedConnections, 1)
  })
})
