import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { readFileSync } from 'node:fs'
import { validateXML } from 'xmllint-wasm'
import { startGateway, request, soapOnly, type TestGateway } from '../helpers/gateway.js'
import { computeSignature } from '../../src/backends/soap/signing.js'
import { DEMO_ENCRYPTION_KEY, DEMO_USER_ID } from '../../simulator/index.js'

const wsdl = readFileSync(new URL('../../src/backends/soap/wsdl/mktows-2_3.wsdl', import.meta.url), 'utf8')
const xsd = wsdl.slice(wsdl.indexOf('<xs:schema'), wsdl.indexOf('</xs:schema>') + '</xs:schema>'.length)
  .replace('<xs:schema', '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="http://www.marketo.com/mktows/"')

// Takes one top-level element out of the envelope as a standalone document, carrying over the
// namespace declarations in scope, so the WSDL's own schema can validate it.
function standalone (envelope: string, container: 'Header' | 'Body'): string {
  const m = new RegExp(`<(\\w+):${container}[^>]*>([\\s\\S]*)</\\1:${container}>`).exec(envelope)
  assert.ok(m, `envelope has a ${container}`)
  const inner = m[2]
  const decls = [...envelope.matchAll(/xmlns:(\w+)="([^"]+)"/g)].map((d) => `xmlns:${d[1]}="${d[2]}"`)
  const unique = [...new Set(decls)].join(' ')
  return inner.replace(/^<([\w:]+)/, (_all, tag: string) => `<${tag} ${unique}`).replace(/(<[\w:]+ [^>]*?)(xmlns:\w+="[^"]+")([^>]*?)\2/g, '$1$2$3')
}

async function schemaErrors (doc: string): Promise<string[]> {
  const result = await validateXML({ xml: [{ fileName: 'part.xml', contents: doc }], schema: [xsd] })
  return result.errors.map((e) => e.rawMessage)
}

// The SOAP envelopes on the wire. On the REST backend there is no envelope, schema or signature to
// check here: every REST request the simulator receives is checked against the official REST
// OpenAPI subset when a test gateway closes (test/helpers/gateway.ts).
describe('wire: what reaches Marketo', { skip: soapOnly('the syncMObjects XML envelope, its WSDL schema and its signature; REST requests are checked against the REST OpenAPI subset at every gateway close') }, () => {
  let gw: TestGateway
  let proxy: http.Server
  const bodies: Array<{ headers: http.IncomingHttpHeaders, body: string }> = []

  before(async () => {
    gw = await startGateway()
    const target = new URL(gw.sim.endpoint)
    // A recording hop between gateway and simulator, over real HTTP.
    proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8')
        bodies.push({ headers: req.headers, body })
        const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } }, (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers)
          upRes.pipe(res)
        })
        up.end(body)
      })
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const port = (proxy.address() as { port: number }).port
    await gw.app.close()
    const { buildApp } = await import('../../src/app.js')
    const { loadConfig } = await import('../../src/config.js')
    const app = await buildApp(loadConfig({
      LOG_LEVEL: 'silent',
      MARKETO_SOAP_ENDPOINT: `http://127.0.0.1:${port}${target.pathname}`,
      MARKETO_USER_ID: DEMO_USER_ID,
      MARKETO_ENCRYPTION_KEY: DEMO_ENCRYPTION_KEY,
      AUTH_DISABLED: 'i-understand-the-risk'
    }))
    await app.listen({ host: '127.0.0.1', port: 0 })
    gw.app = app
    gw.url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  })
  after(async () => {
    await gw.app.close()
    await gw.sim.close()
    await new Promise((resolve) => proxy.close(resolve))
  })

  const routes: Array<{ name: string, path: string, method?: string, body: unknown }> = [
    { name: 'program costs', path: '/programs/1970/costs', body: { costs: [{ month: '2013-06', amount: 2000, id: 153, note: 'n' }, { month: '2013-07', amount: 10.5 }] } },
    { name: 'program tags', path: '/programs/1970/tags', body: { tags: [{ type: 'Channel', value: 'Webinar' }] } },
    { name: 'opportunities', path: '/opportunities', body: { operation: 'insert', opportunities: [{ externalKey: { name: 'opportunityId', value: 'w-1' }, name: 'Q1 2014', amount: 1, closeDate: '2014-03-31', isWon: true, fiscalQuarter: 1, customFields: { ProductLine: 'Tea' }, company: { id: 1 } }] } },
    { name: 'opportunity patch', path: '/opportunities/64', method: 'PATCH', body: { stage: 'Won' } },
    { name: 'roles', path: '/opportunities/roles', body: { roles: [{ opportunityId: 64, personId: 19, role: 'Wire', isPrimary: true }, { opportunity: { externalKey: { name: 'opportunityId', value: 'w-1' } }, personId: 6 }] } },
    { name: 'generic sync', path: '/mobjects/sync', body: { operation: 'UPSERT', mObjects: [{ type: 'Opportunity', externalKey: { name: 'opportunityId', value: 'w-2' }, attributes: { Name: 'G' }, associations: [{ type: 'Company', id: 2 }] }] } }
  ]

  for (const r of routes) {
    it(`${r.name}: envelope valid against the WSDL schema, signature verifies`, async () => {
      const before = bodies.length
      const res = await request(gw.url + r.path, { method: r.method, body: r.body })
      assert.ok(res.status === 200 || res.status === 207, res.text)
      assert.equal(bodies.length, before + 1)
      const { headers, body } = bodies[bodies.length - 1]
      assert.equal(headers.soapaction, '"http://www.marketo.com/mktows/syncMObjects"')
      assert.match(String(headers['content-type']), /^text\/xml; charset=utf-8/)
      assert.doesNotMatch(body, /\n\s+</, 'no pretty printing')
      assert.deepEqual(await schemaErrors(standalone(body, 'Body')), [])
      assert.deepEqual(await schemaErrors(standalone(body, 'Header')), [])
      const userId = /<mktowsUserId>([^<]*)<\/mktowsUserId>/.exec(body)?.[1]
      const timestamp = /<requestTimestamp>([^<]*)<\/requestTimestamp>/.exec(body)?.[1]
      const signature = /<requestSignature>([^<]*)<\/requestSignature>/.exec(body)?.[1]
      assert.equal(userId, DEMO_USER_ID)
      assert.ok(timestamp !== undefined && signature !== undefined)
      assert.equal(signature, computeSignature(DEMO_ENCRYPTION_KEY, timestamp, DEMO_USER_ID))
    })
  }
})
