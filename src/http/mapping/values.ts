import type { FieldKind } from '../../domain/fields.js'

export type FieldValue = string | number | boolean

/**
 * A JSON value as Marketo wants it (CONTRACT.md §3): strings unchanged, booleans `1`/`0`,
 * numbers as plain decimals. Numbers are written from the shortest round-trip form
 * (`String(n)`), with any exponent expanded: `0.1` → `0.1`, `1e-7` → `0.0000001`,
 * `1e21` → `1000000000000000000000`, `-0` → `0`. So `Number(result) === n` always holds.
 * NaN and ±Infinity throw a RangeError: the schemas never let them through.
 */
export function toMarketoValue (v: FieldValue): string {
  if (typeof v === 'string') return v
  if (typeof v === 'boolean') return v ? '1' : '0'
  return toDecimalString(v)
}

function toDecimalString (n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite number: ${n}`)
  const s = String(n)
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s)
  if (m === null) return s
  const [, sign, lead, fraction = '', exponent] = m
  const digits = lead + fraction
  const point = 1 + Number(exponent)
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`
  if (point >= digits.length) return sign + digits + '0'.repeat(point - digits.length)
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`
}

/**
 * A Marketo attrib value read back as JSON, by the field's declared kind. An empty value is
 * `null` for every kind but `string`. Malformed upstream data throws a RangeError (a 502 for
 * the caller, never a silent null). Dates keep their `YYYY-MM-DD` part if Marketo adds a time.
 */
export function fromMarketoValue (value: string, kind: FieldKind): FieldValue | null {
  if (kind === 'string') return value
  const text = value.trim()
  if (text === '') return null
  switch (kind) {
    case 'number': {
      const n = Number(text)
      if (!Number.isFinite(n)) throw new RangeError(`not a number: ${JSON.stringify(value)}`)
      return n
    }
    case 'integer': {
      const n = Number(text)
      if (!Number.isSafeInteger(n)) throw new RangeError(`not an integer: ${JSON.stringify(value)}`)
      return n
    }
    case 'boolean': {
      const t = text.toLowerCase()
      if (t === '1' || t === 'true') return true
      if (t === '0' || t === 'false') return false
      throw new RangeError(`not a boolean: ${JSON.stringify(value)}`)
    }
    case 'date': {
      const m = /^(\d{4}-\d{2}-\d{2})(?:$|[T ])/.exec(text)
      if (m === null) throw new RangeError(`not a date: ${JSON.stringify(value)}`)
      return m[1]
    }
  }
}
