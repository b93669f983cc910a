export type HostileKind = 'doctype-xxe' | 'entity-expansion' | 'deep-nesting' | 'oversized'

/**
 * Per-call fault injection. Unless noted, the call is applied to the store before the knob acts.
 * Not applied: `fault`, `html502`, `empty200`, `resetBeforeApply`, `hostile`.
 */
export interface Knob {
  /** Delay before the call is processed. */
  latencyMs?: number
  /** Answer this Marketo fault code (HTTP 500) instead of processing the call. The REST face
   *  answers it as a response-level error (HTTP 200, success false, errors[]): REST codes
   *  (500, 502, 6xx, 7xx, 1xxx) as they are, SOAP codes as their REST twin. */
  fault?: number
  /** Answer HTTP 502 with an HTML body, as a load balancer would. */
  html502?: boolean
  /** Answer HTTP 200 with an empty body. */
  empty200?: boolean
  /** Answer HTTP 200 with the first half of the real response (ill-formed XML). */
  truncated?: boolean
  /** Reset the TCP connection without answering, before the call is applied. */
  resetBeforeApply?: boolean
  /** Apply the call, then reset the TCP connection without answering. */
  resetAfterApply?: boolean
  /** Send the response body in chunks of chunkBytes every intervalMs. */
  dribble?: { chunkBytes: number, intervalMs: number }
  /** Answer one status fewer or more than the objects sent. */
  statusCount?: 'fewer' | 'more'
  /** Replace the first status id with one that matches no object sent. */
  unmatchedId?: boolean
  /** Answer HTTP 200 with a hostile XML body. */
  hostile?: HostileKind
  /** Nesting depth for hostile 'deep-nesting' (default 10_000). */
  depth?: number
  /** Body size for hostile 'oversized' (default 10 MiB). */
  sizeBytes?: number
  /** Answer FAILED for these object indexes (0-based) without applying them; the others are applied. */
  failObjects?: number[]
  /** REST face: the record reason failObjects are skipped with (e.g. 1013, 1017, 1018; default 1003). */
  failReason?: number
}

export interface KnobControl {
  enqueue (knob: Knob): void
  setDefault (knob?: Knob): void
  clear (): void
}

export class KnobQueue implements KnobControl {
  private queue: Knob[] = []
  private fallback: Knob | undefined

  enqueue (knob: Knob): void { this.queue.push({ ...knob }) }
  setDefault (knob?: Knob): void { this.fallback = knob ? { ...knob } : undefined }
  clear (): void { this.queue = []; this.fallback = undefined }
  get pending (): number { return this.queue.length }
  next (): Knob | undefined { return this.queue.shift() ?? this.fallback }
}

export const HTML_502 = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n'

const OPEN = '<?xml version="1.0" encoding="UTF-8"?>\n'
const ENV = '<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="http://www.marketo.com/mktows/"><SOAP-ENV:Body>'
const CLOSE = '</SOAP-ENV:Body></SOAP-ENV:Envelope>\n'

/** Hostile bodies are produced in chunks so a large one is never one string in memory. */
export function * hostileBody (knob: Knob): Generator<string> {
  switch (knob.hostile) {
    case 'doctype-xxe':
      yield OPEN + '<!DOCTYPE SOAP-ENV:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n' + ENV +
        '<ns1:successSyncMObjects><result><mObjStatusList><mObjStatus><id>1</id><status>CREATED</status><error>&xxe;</error></mObjStatus></mObjStatusList></result></ns1:successSyncMObjects>' + CLOSE
      return
    case 'entity-expansion': {
      let dtd = '<!DOCTYPE SOAP-ENV:Envelope [<!ENTITY lol0 "lol">'
      for (let i = 1; i <= 9; i++) dtd += `<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`
      yield OPEN + dtd + ']>\n' + ENV +
        '<ns1:successSyncMObjects><result><mObjStatusList><mObjStatus><id>1</id><status>CREATED</status><error>&lol9;</error></mObjStatus></mObjStatusList></result></ns1:successSyncMObjects>' + CLOSE
      return
    }
    case 'deep-nesting': {
      const depth = knob.depth ?? 10_000
      yield OPEN + ENV + '<ns1:successSyncMObjects><result>'
      const step = 1_000
      for (let i = 0; i < depth; i += step) yield '<a>'.repeat(Math.min(step, depth - i))
      for (let i = 0; i < depth; i += step) yield '</a>'.repeat(Math.min(step, depth - i))
      yield '<mObjStatusList/></result></ns1:successSyncMObjects>' + CLOSE
      return
    }
    case 'oversized': {
      const size = knob.sizeBytes ?? 10 * 1024 * 1024
      const head = OPEN + ENV + '<ns1:successSyncMObjects><result><mObjStatusList>'
      const tail = '</mObjStatusList></result></ns1:successSyncMObjects>' + CLOSE
      const item = '<mObjStatus><id>1</id><status>UNCHANGED</status></mObjStatus>'
      yield head
      let remaining = size - head.length - tail.length
      const block = item.repeat(Math.max(1, Math.floor(65_536 / item.length)))
      while (remaining >= block.length) { yield block; remaining -= block.length }
      while (remaining >= item.length) { yield item; remaining -= item.length }
      if (remaining > 0) yield ' '.repeat(remaining)
      yield tail
      return
    }
    default:
      throw new Error(`unknown hostile kind ${String(knob.hostile)}`)
  }
}
