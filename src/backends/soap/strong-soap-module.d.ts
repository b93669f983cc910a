// strong-soap ships no types; this is the small surface the gateway and its tests use.
declare module 'strong-soap' {
  export class QName {
    constructor (nsURI: string, name: string, prefix?: string)
  }
  export type SoapError = Error & { root?: any, response?: any, body?: string }
  export type SoapCallback = (err: SoapError | null, result?: any, envelope?: string, soapHeader?: unknown) => void
  export interface Client {
    addSoapHeader (header: unknown, qname?: QName): number
    clearSoapHeaders (): void
    setEndpoint (endpoint: string): void
    lastRequest?: string
    [operation: string]: any
  }
  export interface CreateClientOptions {
    endpoint?: string
    httpClient?: unknown
    WSDL_CACHE?: Record<string, unknown>
    [key: string]: unknown
  }
  const strongSoap: {
    soap: { createClient (url: string, options: CreateClientOptions, callback: (err: Error | null, client: Client) => void): void }
    QName: typeof QName
  }
  export default strongSoap
}
