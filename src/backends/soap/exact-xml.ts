import { SaxesParser } from 'saxes'

// strong-soap trims every text node of an answer (its xmlHandler's ontext), so a value such as
// " a\n" would read back as "a". Reads need values exactly as stored: this turns the element inside
// the SOAP Body into plain data with untouched text. Elements with children become objects (a
// repeated child becomes an array), elements without children become their exact text. Prefixes
// are dropped; the answer has already passed the transport's DTD and depth checks.
export function soapBodyToPlain (xml: string): unknown {
  const parser = new SaxesParser({ xmlns: true })
  interface Frame { name: string, text: string, children: Record<string, unknown> | null }
  const stack: Frame[] = []
  let body: unknown
  let inBody = false
  let depthInBody = 0
  parser.on('opentag', (tag) => {
    if (!inBody) {
      if (tag.local === 'Body') inBody = true
      return
    }
    depthInBody++
    stack.push({ name: tag.local, text: '', children: null })
  })
  parser.on('text', (t) => { if (stack.length > 0) stack[stack.length - 1].text += t })
  parser.on('cdata', (t) => { if (stack.length > 0) stack[stack.length - 1].text += t })
  parser.on('closetag', (tag) => {
    if (!inBody) return
    if (depthInBody === 0) {
      if (tag.local === 'Body') inBody = false
      return
    }
    depthInBody--
    const frame = stack.pop() as Frame
    const value = frame.children ?? frame.text
    const parent = stack[stack.length - 1]
    if (parent === undefined) {
      body ??= value
      return
    }
    parent.children ??= {}
    const existing = parent.children[frame.name]
    if (existing === undefined) parent.children[frame.name] = value
    else if (Array.isArray(existing)) existing.push(value)
    else parent.children[frame.name] = [existing, value]
  })
  parser.write(xml).close()
  return body
}
