import { GatewayError } from '../../domain/errors.js'
import { classifyTransport } from '../../upstream/errors.js'
import { SoapFault, SoapProtocolError } from './soap-client.js'

// The one place where SOAP faults and transport failures become coded gateway errors, keyed on
// codes, never on message texts. `sent` tells whether Marketo may have applied the call: a fault
// means Marketo rejected the call before applying it (CONTRACT.md §1), so it is never `sent`.
export function toGatewayError (err: unknown, opts: { quotaRetryAfterMs?: number } = {}): GatewayError {
  if (err instanceof SoapFault) return faultError(err, opts.quotaRetryAfterMs)
  if (err instanceof SoapProtocolError) {
    return new GatewayError('UPSTREAM_PROTOCOL_ERROR', err.message, { cause: err, sent: true })
  }
  return classifyTransport(err)
}

function faultError (fault: SoapFault, quotaRetryAfterMs = 60 * 60_000): GatewayError {
  const code = fault.faultCode
  const base = { cause: fault, upstreamCode: code, sent: false }
  switch (code) {
    case 20014:
    case 20013:
      return new GatewayError('UPSTREAM_AUTH', `Marketo refused the gateway's credentials (${code})`, base)
    case 20016:
      return new GatewayError('UPSTREAM_CLOCK_SKEW', 'Marketo considered the request expired (20016); check the gateway clock', { ...base, retry: 'resign' })
    case 20015:
      return new GatewayError('UPSTREAM_QUOTA_EXCEEDED', 'Marketo daily API quota exceeded (20015)', { ...base, retryAfterMs: quotaRetryAfterMs })
    case 20023:
      return new GatewayError('UPSTREAM_RATE_LIMITED', 'Marketo rate limit reached (20023)', { ...base, retryAfterMs: 20_000, retry: 'transient' })
    case 20024:
      return new GatewayError('UPSTREAM_CONCURRENCY_LIMITED', 'Marketo concurrency limit reached (20024)', { ...base, retryAfterMs: 1_000, retry: 'transient' })
    case 10001:
    case 20011:
      return new GatewayError('UPSTREAM_INTERNAL', `Marketo reported an internal error (${code})`, { ...base, retry: 'transient' })
    default:
      return new GatewayError('UPSTREAM_REJECTED', `Marketo rejected the request (${code ?? 'no code'})`, base)
  }
}
