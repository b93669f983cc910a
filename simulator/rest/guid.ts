// marketoGUIDs of the simulator: derived from the integer ids the SOAP face uses, so one record
// has one identity on both faces. Opportunities and roles use different variants.

const PREFIX = { opportunity: '00000000-0000-4000-8000-', role: '00000000-0000-4000-8001-' } as const
export type GuidKind = keyof typeof PREFIX

export function toGuid (kind: GuidKind, id: number): string {
  return PREFIX[kind] + id.toString(16).padStart(12, '0')
}

export function fromGuid (kind: GuidKind, guid: string): number | undefined {
  if (!guid.startsWith(PREFIX[kind])) return undefined
  const hex = guid.slice(PREFIX[kind].length)
  if (!/^[0-9a-f]{12}$/.test(hex)) return undefined
  const id = parseInt(hex, 16)
  return id > 0 && id <= 2_147_483_647 ? id : undefined
}
