import type { Client, SoapError } from 'strong-soap'
import strongSoap from './strong-soap.js'
import { signRequest } from './signing.js'
import { soapBodyToPlain } from './exact-xml.js'
import { SoapHttpTransport, type CallHints, type TransportOptions } from '../../upstream/transport.js'
import type { MarketoCredentials, MObject, MObjStatus, MarketoStatus, SyncOperation, Attrib } from '../../domain/model.js'

export const MKTOWS_NS = 'http://www.marketo.com/mktows/'
const AUTH_HEADER = new strongSoap.QName(MKTOWS_NS, 'AuthenticationHeader')

export type MarketoOperation = 'syncMObjects' | 'describeMObject' | 'getMObjects' | 'deleteMObjects'

export interface SoapClientOptions {
  wsdlPath: string
  endpoint: string
  credentials: MarketoCredentials
  transport: TransportOptions
  now?: () => Date
}

// A SOAP fault as Marketo sends it: detail/serviceException/{name,message,code}.
export class SoapFault extends Error {
  readonly faultCode: number | undefined
  readonly faultString: string
  // The HTTP Date of the fault, to measure clock skew on 20016.
  readonly serverDate?: string

  constructor (faultCode: number | undefined, faultString: string, serverDate?: string) {
    super(`Marketo fault ${faultCode ?? 'without code'}`)
    this.name = 'SoapFault'
    this.faultCode = faultCode
    this.faultString = faultString
    this.serverDate = serverDate
  }
}

// Raised when a call produces no answer the gateway can trust (no result element, wrong counts).
export class SoapProtocolError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'SoapProtocolError'
  }
}

// `wsdlCache` is strong-soap's WSDL_CACHE: a client created with the cache of an earlier one reuses
// its parsed WSDL model instead of parsing the file again.
function loadClient (wsdlPath: string, endpoint: string, httpClient: unknown, wsdlCache: Record<string, unknown>): Promise<Client> {
  return new Promise((resolve, reject) => {
    strongSoap.soap.createClient(wsdlPath, { endpoint, httpClient, WSDL_CACHE: wsdlCache }, (err, client) => {
      if (err !== null && err !== undefined) reject(err)
      else resolve(client)
    })
  })
}

// strong-soap's request builder only needs this to hand over the finished envelope.
class CaptureTransport {
  readonly options = { prettyPrint: false }
  request (_url: string, data: string, callback: (err: Error) => void): undefined {
    callback(Object.assign(new Error('captured'), { envelope: data }))
    return undefined
  }
}

export class MarketoSoapClient {
  readonly endpoint: string
  private readonly client: Client
  // The client behind dry runs, created on the first one: most processes never serve a dry run.
  private dryClient: Promise<Client> | undefined
  private readonly wsdlPath: string
  private readonly wsdlCache: Record<string, unknown>
  private readonly transport: SoapHttpTransport
  private readonly credentials: MarketoCredentials
  private readonly now: () => Date
  // Correction learned from Marketo's Date header after a 20016 (request expired).
  clockOffsetMs = 0

  private constructor (client: Client, wsdlCache: Record<string, unknown>, transport: SoapHttpTransport, opts: SoapClientOptions) {
    this.client = client
    this.wsdlPath = opts.wsdlPath
    this.wsdlCache = wsdlCache
    this.transport = transport
    this.endpoint = opts.endpoint
    this.credentials = opts.credentials
    this.now = opts.now ?? (() => new Date())
  }

  // One client per process, created once from the local WSDL; never per request.
  static async create (opts: SoapClientOptions): Promise<MarketoSoapClient> {
    const transport = new SoapHttpTransport(opts.transport)
    const wsdlCache: Record<string, unknown> = {}
    const client = await loadClient(opts.wsdlPath, opts.endpoint, transport, wsdlCache)
    return new MarketoSoapClient(client, wsdlCache, transport, opts)
  }

  // The dry-run client shares the parsed WSDL of the sending client, so creating it costs no parse.
  private getDryClient (): Promise<Client> {
    if (this.dryClient === undefined) {
      const created = loadClient(this.wsdlPath, this.endpoint, new CaptureTransport(), this.wsdlCache)
      this.dryClient = created
      created.catch(() => { if (this.dryClient === created) this.dryClient = undefined })
    }
    return this.dryClient
  }

  close (): void {
    this.transport.close()
  }

  // Sends one signed call. The header is set and the call started in one synchronous block:
  // strong-soap builds the envelope synchronously, so concurrent calls cannot mix signatures.
  invoke (operation: MarketoOperation, body: Record<string, unknown>, hints: CallHints = {}): Promise<any> {
    return new Promise((resolve, reject) => {
      const header = signRequest(this.credentials.userId, this.credentials.encryptionKey, new Date(this.now().getTime() + this.clockOffsetMs))
      this.client.clearSoapHeaders()
      this.client.addSoapHeader(header, AUTH_HEADER)
      this.client[operation](body, (err: SoapError | null, parsed: unknown, envelope?: string) => {
        if (err !== null && err !== undefined) {
          const mapped = toSoapError(err)
          if (mapped instanceof SoapFault && mapped.faultCode === 20016 && mapped.serverDate !== undefined) {
            const skew = Date.parse(mapped.serverDate) - this.now().getTime()
            // HTTP dates have one-second resolution: only a larger skew is worth correcting.
            if (Number.isFinite(skew) && Math.abs(skew) > 2_000) this.clockOffsetMs = skew
          }
          reject(mapped)
          return
        }
        let result = parsed
        // Read answers carry stored values: take their text exactly, not strong-soap's trimmed copy.
        if (operation === 'getMObjects' && typeof envelope === 'string') {
          try {
            result = soapBodyToPlain(envelope)
          } catch {
            reject(new SoapProtocolError('answer could not be parsed as the expected SOAP envelope'))
            return
          }
        }
        if (result === null || result === undefined || typeof result !== 'object') {
          reject(new SoapProtocolError(`no ${operation} result element in the answer`))
          return
        }
        resolve(result)
      }, hints)
    })
  }

  // The envelope strong-soap would send, with the signature redacted (for dry runs).
  async buildEnvelope (operation: MarketoOperation, body: Record<string, unknown>): Promise<string> {
    const dryClient = await this.getDryClient()
    return await new Promise((resolve, reject) => {
      const header = { mktowsUserId: '[REDACTED]', requestSignature: '[REDACTED]', requestTimestamp: signRequest('', '', this.now()).requestTimestamp }
      dryClient.clearSoapHeaders()
      dryClient.addSoapHeader(header, AUTH_HEADER)
      dryClient[operation](body, (err: (Error & { envelope?: string }) | null) => {
        if (err?.envelope !== undefined) resolve(err.envelope)
        else reject(err ?? new Error('no envelope captured'))
      })
    })
  }

  async syncMObjects (operation: SyncOperation, objects: MObject[], hints: CallHints = {}): Promise<MObjStatus[]> {
    const result = await this.invoke('syncMObjects', syncMObjectsBody(operation, objects), hints)
    return parseSyncStatuses(result)
  }
}

function toSoapError (err: SoapError): Error {
  if (err.name === 'TransportError') return err
  const fault = err.root?.Envelope?.Body?.Fault
  if (fault !== undefined && fault !== null) {
    const detail = fault.detail?.serviceException
    const rawCode = detail?.code ?? /^(\d+)\b/.exec(String(fault.faultstring ?? ''))?.[1]
    const code = Number.parseInt(String(rawCode), 10)
    const date = err.response?.headers?.date
    return new SoapFault(Number.isFinite(code) ? code : undefined, String(fault.faultstring ?? ''), typeof date === 'string' ? date : undefined)
  }
  // A parse failure of a 200/500 XML answer: truncated, or not the envelope it claims to be.
  return new SoapProtocolError('answer could not be parsed as the expected SOAP envelope')
}

function attribList (attribs: Attrib[] | undefined): { attrib: Attrib[] } | undefined {
  if (attribs === undefined || attribs.length === 0) return undefined
  return { attrib: attribs.map((a) => ({ name: a.name, value: a.value })) }
}

// Builds the SOAP argument from the internal model only (never from caller JSON), in schema order.
export function toSoapMObject (o: MObject): Record<string, unknown> {
  const m: Record<string, unknown> = { type: o.type }
  if (o.id !== undefined) m.id = o.id
  if (o.externalKey !== undefined) m.externalKey = { name: o.externalKey.name, value: o.externalKey.value }
  const attribs = attribList(o.attribs)
  if (attribs !== undefined) m.attribList = attribs
  if (o.typeAttribs !== undefined && o.typeAttribs.length > 0) {
    m.typeAttribList = {
      typeAttrib: o.typeAttribs.map((t) => {
        const ta: Record<string, unknown> = { attrType: t.attrType }
        const list = attribList(t.attribs)
        if (list !== undefined) ta.attrList = list
        return ta
      })
    }
  }
  if (o.associations !== undefined && o.associations.length > 0) {
    m.associationList = {
      mObjAssociation: o.associations.map((a) => {
        const assoc: Record<string, unknown> = { mObjType: a.mObjType }
        if (a.id !== undefined) assoc.id = a.id
        if (a.externalKey !== undefined) assoc.externalKey = { name: a.externalKey.name, value: a.externalKey.value }
        return assoc
      })
    }
  }
  return m
}

export function syncMObjectsBody (operation: SyncOperation, objects: MObject[]): Record<string, unknown> {
  return { paramsSyncMObjects: { mObjectList: { mObject: objects.map(toSoapMObject) }, operation } }
}

const STATUSES = new Set<MarketoStatus>(['CREATED', 'UPDATED', 'DELETED', 'FAILED', 'UNCHANGED', 'SKIPPED'])

export function asArray<T> (value: T | T[] | undefined | null): T[] {
  if (value === undefined || value === null) return []
  return Array.isArray(value) ? value : [value]
}

function text (value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'object' && '$value' in (value as Record<string, unknown>)) return String((value as Record<string, unknown>).$value)
  return String(value)
}

export function parseMObjStatusList (list: unknown): MObjStatus[] {
  const items = asArray((list as { mObjStatus?: unknown } | undefined)?.mObjStatus)
  return items.map((raw) => {
    const item = raw as Record<string, any>
    const status = text(item.status) as MarketoStatus
    if (!STATUSES.has(status)) throw new SoapProtocolError('unknown object status in the answer')
    const id = Number.parseInt(String(text(item.id) ?? ''), 10)
    const parsed: MObjStatus = { id: Number.isFinite(id) && id > 0 ? id : null, status }
    if (item.externalKey !== undefined && item.externalKey !== null) {
      parsed.externalKey = { name: text(item.externalKey.name) ?? '', value: text(item.externalKey.value) ?? '' }
    }
    const error = text(item.error)
    if (error !== undefined) parsed.error = error
    return parsed
  })
}

export function parseSyncStatuses (result: any): MObjStatus[] {
  const list = result?.result?.mObjStatusList
  if (list === undefined) throw new SoapProtocolError('no mObjStatusList in the answer')
  return parseMObjStatusList(list)
}
