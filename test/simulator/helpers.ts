import { readFileSync } from 'node:fs'
import { validateXML } from 'xmllint-wasm'
import { computeSignature, formatTimestamp } from '../../src/backends/soap/signing.js'
import { DEMO_ENCRYPTION_KEY, DEMO_USER_ID, startSimulator, type RunningSimulator, type SimulatorOptions } from '../../simulator/index.js'

export const NOW = new Date('2024-05-01T12:00:00Z')

export interface Closeable { after (fn: () => Promise<void>): void }

export async function start (t: Closeable, opts: SimulatorOptions = {}): Promise<RunningSimulator> {
  const sim = await startSimulator({ clock: () => NOW, ...opts })
  t.after(() => sim.close())
  return sim
}

export interface AuthOptions { userId?: string, key?: string, timestamp?: string, signature?: string, now?: Date }

export function authHeader (o: AuthOptions = {}): string {
  const userId = o.userId ?? DEMO_USER_ID
  const timestamp = o.timestamp ?? formatTimestamp(o.now ?? NOW)
  const signature = o.signature ?? computeSignature(o.key ?? DEMO_ENCRYPTION_KEY, timestamp, userId)
  return `<ns1:AuthenticationHeader><mktowsUserId>${userId}</mktowsUserId><requestSignature>${signature}</requestSignature><requestTimestamp>${timestamp}</requestTimestamp></ns1:AuthenticationHeader>`
}

export function envelope (body: string, header: string | null = authHeader()): string {
  return '<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="http://www.marketo.com/mktows/">' +
    (header === null ? '' : `<SOAP-ENV:Header>${header}</SOAP-ENV:Header>`) +
    `<SOAP-ENV:Body>${body}</SOAP-ENV:Body></SOAP-ENV:Envelope>`
}

export interface Reply { status: number, body: string, headers: Headers }

export async function post (sim: RunningSimulator | string, xml: string | Buffer, operation = 'syncMObjects'): Promise<Reply> {
  const url = typeof sim === 'string' ? sim : sim.endpoint
  const res = await fetch(url, {
    method: 'POST',
    body: xml,
    headers: { 'Content-Type': 'text/xml; charset=utf-8', SOAPAction: `"http://www.marketo.com/mktows/${operation}"` }
  })
  return { status: res.status, body: await res.text(), headers: res.headers }
}

export interface TestObject {
  type: string
  id?: number
  externalKey?: [string, string]
  attribs?: Record<string, string>
  typeAttribs?: [string, Record<string, string>][]
  associations?: { type: string, id?: number, externalKey?: [string, string] }[]
}

const ek = (tag: string, k: [string, string] | undefined): string => k ? `<${tag}><name>${k[0]}</name><value>${k[1]}</value></${tag}>` : ''
const attribs = (a: Record<string, string>): string => Object.entries(a).map(([n, v]) => `<attrib><name>${n}</name><value>${v}</value></attrib>`).join('')

export function mObjectXml (o: TestObject): string {
  let x = `<mObject><type>${o.type}</type>`
  if (o.id !== undefined) x += `<id>${o.id}</id>`
  x += ek('externalKey', o.externalKey)
  if (o.attribs) x += `<attribList>${attribs(o.attribs)}</attribList>`
  if (o.typeAttribs) x += '<typeAttribList>' + o.typeAttribs.map(([t, a]) => `<typeAttrib><attrType>${t}</attrType><attrList>${attribs(a)}</attrList></typeAttrib>`).join('') + '</typeAttribList>'
  if (o.associations) {
    x += '<associationList>' + o.associations.map((a) => `<mObjAssociation><mObjType>${a.type}</mObjType>${a.id !== undefined ? `<id>${a.id}</id>` : ''}${ek('externalKey', a.externalKey)}</mObjAssociation>`).join('') + '</associationList>'
  }
  return x + '</mObject>'
}

export function syncXml (operation: string, objects: TestObject[], header?: string | null): string {
  return envelope(`<ns1:paramsSyncMObjects><mObjectList>${objects.map(mObjectXml).join('')}</mObjectList><operation>${operation}</operation></ns1:paramsSyncMObjects>`, header)
}

export interface Status { id: number, status: string, externalKey?: [string, string], error?: string }

export function statusesOf (xml: string): Status[] {
  const out: Status[] = []
  for (const m of xml.matchAll(/<mObjStatus>([\s\S]*?)<\/mObjStatus>/g)) {
    const inner = m[1]
    const s: Status = { id: Number(/<id>(-?\d+)<\/id>/.exec(inner)?.[1]), status: /<status>(\w+)<\/status>/.exec(inner)?.[1] ?? '' }
    const k = /<externalKey><name>([^<]*)<\/name><value>([^<]*)<\/value><\/externalKey>/.exec(inner)
    if (k) s.externalKey = [k[1], k[2]]
    const e = /<error>([^<]*)<\/error>/.exec(inner)
    if (e) s.error = e[1]
    out.push(s)
  }
  return out
}

export async function sync (sim: RunningSimulator, operation: string, objects: TestObject[]): Promise<Status[]> {
  const reply = await post(sim, syncXml(operation, objects))
  if (reply.status !== 200) throw new Error(`HTTP ${reply.status}: ${reply.body}`)
  return statusesOf(reply.body)
}

export function faultBody (code: number, faultstring: string, message: string, faultcode = 'SOAP-ENV:Client'): string {
  return '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault>' +
    `<faultcode>${faultcode}</faultcode><faultstring>${faultstring}</faultstring><detail>` +
    '<ns1:serviceException xmlns:ns1="http://www.marketo.com/mktows/"><name>mktServiceException</name>' +
    `<message>${message}</message><code>${code}</code></ns1:serviceException></detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n`
}

export function faultCodeOf (xml: string): number | undefined {
  const m = /<code>(\d+)<\/code>/.exec(xml)
  return m ? Number(m[1]) : undefined
}

const wsdl = readFileSync(new URL('../../simulator/wsdl/mktows-2_3.wsdl', import.meta.url), 'utf8')
const schema = wsdl.slice(wsdl.indexOf('<xs:schema'), wsdl.indexOf('</xs:schema>') + '</xs:schema>'.length)
  .replace('<xs:schema', '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="http://www.marketo.com/mktows/"')

/** Validates the element inside SOAP-ENV:Body against the WSDL's own schema; returns the errors. */
export async function schemaErrors (responseXml: string): Promise<string[]> {
  const m = /<SOAP-ENV:Body>([\s\S]*)<\/SOAP-ENV:Body>/.exec(responseXml)
  if (!m) return ['no SOAP body']
  const doc = m[1].replace(/^<ns1:(\w+)/, '<ns1:$1 xmlns:ns1="http://www.marketo.com/mktows/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"')
  const result = await validateXML({ xml: [{ fileName: 'body.xml', contents: doc }], schema: [schema] })
  return result.errors.map((e) => e.rawMessage)
}
