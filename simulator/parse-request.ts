import { SaxesParser } from 'saxes'
import type { Association, Attrib, MObject, SyncOperation, TypeAttrib } from './model.js'
import { SimulatorFault } from './faults.js'

export const SOAP_ENV_NS = 'http://schemas.xmlsoap.org/soap/envelope/'
export const MKTOWS_NS = 'http://www.marketo.com/mktows/'

export interface XmlElement {
  ns: string
  name: string
  children: XmlElement[]
  text: string
}

const MAX_DEPTH = 64
const MAX_ELEMENTS = 200_000

// Strict, namespace-aware and entity-free: a DOCTYPE is refused before any DTD is read.
export function parseXml (xml: string): XmlElement {
  const parser = new SaxesParser({ xmlns: true, position: false })
  const stack: XmlElement[] = []
  let root: XmlElement | undefined
  let count = 0
  parser.on('doctype', () => { throw new SimulatorFault(20012, 'DOCTYPE is not allowed') })
  parser.on('opentag', (tag) => {
    if (stack.length >= MAX_DEPTH) throw new SimulatorFault(20012, 'Request nesting is too deep')
    if (++count > MAX_ELEMENTS) throw new SimulatorFault(20012, 'Request has too many elements')
    const el: XmlElement = { ns: tag.uri, name: tag.local, children: [], text: '' }
    const parent = stack[stack.length - 1]
    if (parent) parent.children.push(el)
    else root = el
    stack.push(el)
  })
  parser.on('text', (t) => { const top = stack[stack.length - 1]; if (top) top.text += t })
  parser.on('cdata', (t) => { const top = stack[stack.length - 1]; if (top) top.text += t })
  parser.on('closetag', () => { stack.pop() })
  try {
    parser.write(xml).close()
  } catch (err) {
    if (err instanceof SimulatorFault) throw err
    throw new SimulatorFault(20012, 'Request XML is not well-formed')
  }
  if (!root) throw new SimulatorFault(20012)
  return root
}

// Children are unqualified in the schema; some clients qualify them anyway, so accept both.
function isLocal (el: XmlElement): boolean {
  return el.ns === '' || el.ns === MKTOWS_NS
}

export function child (el: XmlElement | undefined, name: string): XmlElement | undefined {
  if (!el) return undefined
  for (const c of el.children) if (c.name === name && isLocal(c)) return c
  return undefined
}

export function childrenNamed (el: XmlElement | undefined, name: string): XmlElement[] {
  if (!el) return []
  return el.children.filter((c) => c.name === name && isLocal(c))
}

export function childText (el: XmlElement | undefined, name: string): string | undefined {
  const c = child(el, name)
  return c ? c.text.trim() : undefined
}

export interface AuthHeader {
  mktowsUserId?: string
  requestSignature?: string
  requestTimestamp?: string
}

export interface SoapRequest {
  operation: string
  params: XmlElement
  auth?: AuthHeader
}

export function readEnvelope (root: XmlElement): SoapRequest {
  if (root.ns !== SOAP_ENV_NS || root.name !== 'Envelope') throw new SimulatorFault(20012, 'Not a SOAP 1.1 envelope')
  let header: XmlElement | undefined
  let body: XmlElement | undefined
  for (const c of root.children) {
    if (c.ns !== SOAP_ENV_NS) continue
    if (c.name === 'Header') header = c
    else if (c.name === 'Body') body = c
  }
  if (!body) throw new SimulatorFault(20012, 'SOAP Body is missing')
  const params = body.children[0]
  if (!params) throw new SimulatorFault(20012, 'SOAP Body is empty')
  if (params.ns !== MKTOWS_NS) throw new SimulatorFault(20012, `Unexpected element ${params.name} in SOAP Body`)
  const operation = params.name.startsWith('params') && params.name.length > 6
    ? params.name[6].toLowerCase() + params.name.slice(7)
    : params.name
  let auth: AuthHeader | undefined
  const authEl = header?.children.find((c) => c.ns === MKTOWS_NS && c.name === 'AuthenticationHeader')
  if (authEl) {
    auth = {
      mktowsUserId: childText(authEl, 'mktowsUserId'),
      requestSignature: childText(authEl, 'requestSignature'),
      requestTimestamp: childText(authEl, 'requestTimestamp')
    }
  }
  return { operation, params, auth }
}

function parseInt32 (raw: string, what: string): number {
  if (!/^[+-]?\d{1,10}$/.test(raw)) throw new SimulatorFault(20110, `${what} is not a valid integer: ${raw.slice(0, 40)}`)
  const n = Number(raw)
  if (n > 2_147_483_647 || n < -2_147_483_648) throw new SimulatorFault(20110, `${what} is out of range: ${raw}`)
  return n
}

function readAttrib (el: XmlElement): Attrib {
  return { name: childText(el, 'name') ?? '', value: child(el, 'value')?.text ?? '' }
}

function readAttribList (el: XmlElement | undefined): Attrib[] {
  return childrenNamed(el, 'attrib').map(readAttrib)
}

export function readAssociations (list: XmlElement | undefined): Association[] {
  return childrenNamed(list, 'mObjAssociation').map((a) => {
    const assoc: Association = { mObjType: childText(a, 'mObjType') ?? '' }
    const id = childText(a, 'id')
    if (id !== undefined && id !== '') assoc.id = parseInt32(id, 'mObjAssociation id')
    const ek = child(a, 'externalKey')
    if (ek) assoc.externalKey = readAttrib(ek)
    return assoc
  })
}

export function readMObject (el: XmlElement): MObject {
  const obj: MObject = { type: childText(el, 'type') ?? '' }
  const id = childText(el, 'id')
  if (id !== undefined && id !== '') obj.id = parseInt32(id, 'MObject id')
  const ek = child(el, 'externalKey')
  if (ek) obj.externalKey = readAttrib(ek)
  const attribList = child(el, 'attribList')
  if (attribList) obj.attribs = readAttribList(attribList)
  const typeAttribList = child(el, 'typeAttribList')
  if (typeAttribList) {
    obj.typeAttribs = childrenNamed(typeAttribList, 'typeAttrib').map((t): TypeAttrib => ({
      attrType: childText(t, 'attrType') ?? '',
      attribs: readAttribList(child(t, 'attrList'))
    }))
  }
  const assoc = child(el, 'associationList')
  if (assoc) obj.associations = readAssociations(assoc)
  return obj
}

export function readMObjectList (params: XmlElement): MObject[] {
  const list = child(params, 'mObjectList')
  if (!list) throw new SimulatorFault(20109, 'mObjectList is required')
  return childrenNamed(list, 'mObject').map(readMObject)
}

export function readSyncOperation (params: XmlElement): SyncOperation {
  const op = childText(params, 'operation')
  if (op === undefined || op === '') throw new SimulatorFault(20109, 'operation is required')
  if (op !== 'INSERT' && op !== 'UPDATE' && op !== 'UPSERT') throw new SimulatorFault(20110, `Invalid sync operation: ${op.slice(0, 40)}`)
  return op
}

export interface GetMObjectsParams {
  type: string
  id?: number
  externalKey?: Attrib
  criteria: { attrName: string, comparison: string, attrValue: string }[]
  associations: Association[]
  includeDetails: boolean
  streamPosition?: string
}

export function readGetMObjects (params: XmlElement): GetMObjectsParams {
  const type = childText(params, 'type')
  if (type === undefined || type === '') throw new SimulatorFault(20109, 'type is required')
  const out: GetMObjectsParams = { type, criteria: [], associations: [], includeDetails: false }
  const id = childText(params, 'id')
  if (id !== undefined && id !== '') out.id = parseInt32(id, 'id')
  const ek = child(params, 'externalKey')
  if (ek) out.externalKey = readAttrib(ek)
  for (const c of childrenNamed(child(params, 'mObjCriteriaList'), 'mObjCriteria')) {
    out.criteria.push({ attrName: childText(c, 'attrName') ?? '', comparison: childText(c, 'comparison') ?? '', attrValue: child(c, 'attrValue')?.text ?? '' })
  }
  out.associations = readAssociations(child(params, 'mObjAssociationList'))
  const details = childText(params, 'includeDetails')
  out.includeDetails = details === 'true' || details === '1'
  const pos = childText(params, 'streamPosition')
  if (pos) out.streamPosition = pos
  return out
}
