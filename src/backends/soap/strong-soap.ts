import Module, { createRequire } from 'node:module'
import type StrongSoap from 'strong-soap'

// strong-soap, without the libraries of its own HTTP client.
//
// strong-soap's `src/http.js` (its default HttpClient) loads `@cypress/request` and `httpntlm` when
// the package is imported. The gateway never uses that client: every client it creates is given
// its own `httpClient` (SoapHttpTransport, or the dry run's capture), and the WSDL is a local file
// read with fs. Loading the two libraries (about 130 modules) cost about 70 ms of start-up and
// 9 MB of memory. They are registered as stubs before strong-soap is loaded: a stub throws if
// strong-soap's own client ever tries to send, so a change in that assumption cannot go unnoticed.
// strong-soap itself (envelope building, WSDL model, parsing) is loaded and used unchanged.
const require = createRequire(import.meta.url)
// Resolved from the file that requires them, as strong-soap's own require would.
const fromStrongSoapHttp = createRequire(require.resolve('strong-soap/src/http.js'))

export const UNUSED_HTTP_LIBRARIES = ['@cypress/request', 'httpntlm'] as const

function unused (name: string): () => never {
  return () => {
    throw new Error(`${name} is not loaded: the gateway sends every SOAP call through its own httpClient`)
  }
}

for (const name of UNUSED_HTTP_LIBRARIES) {
  const path = fromStrongSoapHttp.resolve(name)
  // Already loaded (by another importer in this process): leave it as it is.
  if (require.cache[path] !== undefined) continue
  const stub = new Module(path)
  stub.filename = path
  stub.loaded = true
  stub.exports = Object.assign(unused(name), { defaults: unused(name), get: unused(name), post: unused(name) })
  require.cache[path] = stub
}

const strongSoap: typeof StrongSoap = require('strong-soap')
export default strongSoap
