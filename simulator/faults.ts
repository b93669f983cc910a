// Marketo's SOAP faults: HTTP 500, SOAP-ENV prefix, "<code> - <text>" faultstring and a
// serviceException detail whose message ends in "(<code>)" (captures in test/fixtures).

export const FAULT_TEXT: Record<number, string> = {
  10001: 'Internal error',
  20011: 'Internal error',
  20012: 'Request not understood',
  20013: 'Access denied',
  20014: 'Authentication failed',
  20015: 'Request limit exceeded',
  20016: 'Request expired',
  20017: 'Invalid request',
  20018: 'Bad encoding',
  20019: 'Unsupported operation',
  20023: 'Rate limit exceeded',
  20024: 'Concurrency limit exceeded',
  20109: 'Parameter required',
  // The real 20110 capture says "Input error", not the docs' "Bad Parameter".
  20110: 'Input error',
  20114: 'Bad parameter',
  20122: 'Bad stream position'
}

const DEFAULT_MESSAGE: Record<number, string> = {
  10001: 'Internal error',
  20011: 'Internal error',
  20012: 'Request not understood',
  20013: 'Access denied',
  20014: 'Authentication failed',
  20015: 'Number of calls today exceeded the subscription quota',
  20016: 'Request has expired',
  20017: 'Invalid request',
  20018: 'Bad encoding',
  20019: 'Unsupported operation',
  20023: 'Rate limit exceeded: more than the allowed calls in the rolling window',
  20024: 'Concurrency limit exceeded: too many concurrent calls',
  20109: 'Parameter required',
  20110: 'Bad parameter',
  20114: 'Bad parameter',
  20122: 'Stream position is bad'
}

export class SimulatorFault extends Error {
  readonly code: number
  readonly detailMessage: string
  constructor (code: number, detailMessage?: string) {
    const text = detailMessage ?? DEFAULT_MESSAGE[code] ?? FAULT_TEXT[code] ?? 'Internal error'
    super(`${code} - ${FAULT_TEXT[code] ?? 'Internal error'}`)
    this.name = 'SimulatorFault'
    this.code = code
    this.detailMessage = text
  }
}

export function escapeXml (value: string): string {
  let out = ''
  let last = 0
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    let rep: string | undefined
    if (c === 38) rep = '&amp;'
    else if (c === 60) rep = '&lt;'
    else if (c === 62) rep = '&gt;'
    else if (c === 13) rep = '&#13;'
    if (rep !== undefined) {
      out += value.slice(last, i) + rep
      last = i + 1
    }
  }
  return last === 0 ? value : out + value.slice(last)
}

export function faultXml (code: number, detailMessage?: string): string {
  const text = FAULT_TEXT[code] ?? 'Internal error'
  const message = detailMessage ?? DEFAULT_MESSAGE[code] ?? text
  const faultcode = code === 10001 || code === 20011 ? 'SOAP-ENV:Server' : 'SOAP-ENV:Client'
  return '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><SOAP-ENV:Fault>' +
    `<faultcode>${faultcode}</faultcode><faultstring>${code} - ${escapeXml(text)}</faultstring>` +
    '<detail><ns1:serviceException xmlns:ns1="http://www.marketo.com/mktows/"><name>mktServiceException</name>' +
    `<message>${escapeXml(message)} (${code})</message><code>${code}</code>` +
    '</ns1:serviceException></detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n'
}
