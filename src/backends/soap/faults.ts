import { GatewayError } from '../../domain/errors.js'
import { TransportError } from './http-transport.js'
import { SoapFault, SoapProtocolError } from './soap-client.js'

// The one place where SOAP faults and transport failures become coded gateway errors, keyed on
// codes, never on message texts. `sent` tells whether Marketo may have applied the call: a fault
// means Marketo rejected the call before applying it (CONTRACT.md §1), so it is never `sent`.
export function toGatewayError (err: unknown, opts: { quotaRetryAfterMs?: number } = {}): GatewayError {
  if (err instanceof GatewayError) return err
  if (err instanceof SoapFault) return faultError(err, opts.quotaRetryAfterMs)
  if (err instanceof TransportError) {
    switch (err.kind) {
      case 'connect':
        return new GatewayError('UPSTREAM_UNAVAILABLE', 'Marketo could not be reached', { cause: err, sent: false, retryAfterMs: 1_000 })
      case 'timeout':
        return new GatewayError('UPSTREAM_TIMEOUT', 'Marketo did not answer before the deadline', { cause: err, sent: err.sent })
      case 'aborted':
        return new GatewayError('UPSTREAM_TIMEOUT', 'the request deadline passed', { cause: err, sent: err.sent })
      case 'reset':
        return new GatewayError('UPSTREAM_CONNECTION_LOST', 'the connection to Marketo was lost before its answer arrived', { cause: err, sent: true })
      default:
        return new GatewayError('UPSTREAM_PROTOCOL_ERROR', `Marketo's answer was rejected (${err.kind}${err.httpStatus !== undefined ? `, HTTP ${err.httpStatus}` : ''})`, { cause: err, sent: err.sent })
    }
  }
  if (err instanceof SoapProtocolError) {
    return new GatewayError('UPSTREAM_PROTOCOL_ERROR', err.message, { cause: err, sent: true })
  }
  return new GatewayError('INTERNAL', 'unexpected error while calling Marketo', { cause: err, sent: true })
}

function faultError (fault: SoapFault, quotaRetryAfterMs = 60 * 60_000): GatewayError {
  const code = fault.faultCode
  const base = { cause: fault, upstreamCode: code, sent: false }
  switch (code) {
    case 20014:
    case 20013:
      return new GatewayError('UPSTREAM_AUTH', `Marketo refused the gateway's credentials (${code})`, base)
    case 20016:
      return new GatewayError('UPSTREAM_CLOCK_SKEW', 'Marketo considered the request expired (20016); check the gateway clock', base)
    case 20015:
      return new GatewayError('UPSTREAM_QUOTA_EXCEEDED', 'Marketo daily API quota exceeded (20015)', { ...base, retryAfterMs: quotaRetryAfterMs })
    case 20023:
      return new GatewayError('UPSTREAM_RATE_LIMITED', 'Marketo rate limit reached (20023)', { ...base, retryAfterMs: 20_000 })
    case 20024:
      return new GatewayError('UPSTREAM_CONCURRENCY_LIMITED', 'Marketo concurrency limit reached (20024)', { ...base, retryAfterMs: 1_000 })
    case 10001:
    case 20011:
      return new GatewayError('UPSTREAM_INTERNAL', `Marketo reported an internal error (${code})`, base)
    default:
      return new GatewayError('UPSTREAM_REJECTED', `Marketo rejected the request (${code ?? 'no code'})`, base)
  }
}

// SOAP faults, and their REST twins (src/backends/rest/errors.ts): rate 606, concurrency 615, internal 604/608/611/713.
export const RETRYABLE_FAULTS = new Set([20023, 20024, 10001, 20011, 604, 606, 608, 611, 615, 713])
