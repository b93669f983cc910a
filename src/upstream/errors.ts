import { GatewayError } from '../domain/errors.js'
import { TransportError } from './transport.js'

// Failures that are the same whatever API was called: the gateway's own errors, and transport
// trouble (no connection, timeout, reset, an answer that is not what it claims). Each backend
// classifies its own answers (SOAP faults, REST error codes) and falls back to this. `sent` tells
// whether Marketo may have applied the call.
export function classifyTransport (err: unknown): GatewayError {
  if (err instanceof GatewayError) return err
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
  return new GatewayError('INTERNAL', 'unexpected error while calling Marketo', { cause: err, sent: true })
}
