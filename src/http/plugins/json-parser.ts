import fp from 'fastify-plugin'
import { GatewayError } from '../../domain/errors.js'

// Replaces Fastify's JSON parser. Before JSON.parse runs, one linear pass over the text rejects
// what JSON.parse would silently accept: duplicate keys (last-wins would let the value sent
// upstream differ from the one a reviewer reads), `__proto__`/`constructor` keys (prototype
// pollution in later merges), strong-soap's control keys `$xml`/`$attributes`/`$value` (raw XML
// injection), and nesting past MAX_JSON_DEPTH (a 400k-deep array would block the event loop in
// JSON.parse and in validation). The scan stops at the first problem, so hostile bodies cost
// microseconds.

export const MAX_JSON_DEPTH = 32
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor'])
const SOAP_CONTROL_KEYS = new Set(['$xml', '$attributes', '$value'])

interface Frame {
  keys: Set<string> | null // null for an array
  key: string | null
  index: number
  expectKey: boolean
}

function pointer (stack: Frame[], last?: string): string {
  const parts: string[] = []
  for (const f of stack) {
    if (f.keys === null) parts.push(String(f.index))
    else if (f.key !== null) parts.push(f.key)
  }
  if (last !== undefined) parts.push(last)
  return '/' + parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')
}

function quoted (key: string): string {
  return JSON.stringify(key.length > 64 ? key.slice(0, 64) + '…' : key)
}

const malformed = (detail: string): GatewayError => new GatewayError('MALFORMED_JSON', detail)

/** Throws a GatewayError for duplicate, forbidden or SOAP-control keys and for deep nesting. */
export function scanJson (text: string, maxDepth = MAX_JSON_DEPTH): void {
  const stack: Frame[] = []
  const n = text.length
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) { // "
      let end = -1
      let from = i + 1
      while (end < 0) {
        const q = text.indexOf('"', from)
        if (q < 0) return // unterminated: JSON.parse reports it
        let b = q - 1
        while (b > i && text.charCodeAt(b) === 0x5c) b--
        if ((q - 1 - b) % 2 === 0) end = q
        else from = q + 1
      }
      const top = stack[stack.length - 1]
      if (top !== undefined && top.keys !== null && top.expectKey) {
        let key = text.slice(i + 1, end)
        if (key.includes('\\')) {
          try {
            key = JSON.parse(text.slice(i, end + 1)) as string
          } catch {
            throw malformed('the body is not valid JSON')
          }
        }
        if (FORBIDDEN_KEYS.has(key)) {
          throw malformed(`the key ${quoted(key)} is not allowed (at ${pointer(stack, key)})`)
        }
        if (SOAP_CONTROL_KEYS.has(key)) {
          const path = pointer(stack, key)
          throw new GatewayError('VALIDATION_FAILED', `${path} is not an allowed key`, { errors: [{ path: `body:${path}`, message: 'is not an allowed key' }] })
        }
        if (top.keys.has(key)) {
          throw malformed(`duplicate key ${quoted(key)} at ${pointer(stack)}`)
        }
        top.keys.add(key)
        top.key = key
        top.expectKey = false
      }
      i = end
    } else if (c === 0x7b || c === 0x5b) { // { [
      if (stack.length >= maxDepth) throw malformed(`the body is nested deeper than ${maxDepth} levels`)
      stack.push({ keys: c === 0x7b ? new Set() : null, key: null, index: 0, expectKey: c === 0x7b })
    } else if (c === 0x7d || c === 0x5d) { // } ]
      stack.pop()
    } else if (c === 0x2c) { // ,
      const top = stack[stack.length - 1]
      if (top === undefined) continue
      if (top.keys === null) top.index++
      else top.expectKey = true
    }
  }
}

export function parseJsonBody (text: string, maxDepth = MAX_JSON_DEPTH): unknown {
  if (text.trim() === '') throw malformed('the JSON body is empty')
  scanJson(text, maxDepth)
  try {
    return JSON.parse(text)
  } catch {
    // The parser's message may quote the body; a fixed text is enough for the caller.
    throw malformed('the body is not valid JSON')
  }
}

export default fp(async function jsonParserPlugin (app) {
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string))
    } catch (err) {
      done(err as Error, undefined)
    }
  })
}, { name: 'json-parser' })
