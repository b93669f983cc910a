import type { Socket } from 'node:net'
import { PROBLEM_TYPE_BASE } from './errors.js'

// Requests Node's HTTP parser rejects (control characters in a header, a bare LF, oversized
// headers) never reach Fastify's hooks. Fastify's default answer lacks the headers every
// response carries (no-store, nosniff) and is plain JSON; this one is problem+json like the rest.
export function clientErrorHandler (err: NodeJS.ErrnoException, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy()
    return
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW'
  const status = tooLarge ? 431 : 400
  const code = tooLarge || /HEADER|VALUE|LF|CR/.test(err.code ?? '') ? 'INVALID_HEADER' : 'BAD_REQUEST'
  const body = JSON.stringify({
    type: PROBLEM_TYPE_BASE + code.toLowerCase().replaceAll('_', '-'),
    title: tooLarge ? 'Request headers too large' : 'Malformed HTTP request',
    status,
    detail: 'the HTTP request could not be parsed',
    code
  })
  socket.end(`HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
    'Content-Type: application/problem+json; charset=utf-8\r\n' +
    'Cache-Control: no-store\r\n' +
    'X-Content-Type-Options: nosniff\r\n' +
    'Connection: close\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n` + body)
}
