import { readFileSync } from 'node:fs'
import type { Association, Attrib, MObject, MObjStatus, SyncOperation } from './model.js'
import { w3cTimestamp } from './signature.js'
import { SimulatorFault } from './faults.js'
import type { GetMObjectsParams } from './parse-request.js'

export interface FieldDef {
  name: string
  dataType: string
  size?: number
  description: string
  displayName?: string
  isCustom?: boolean
  isReadonly?: boolean
  isPrimaryKey?: boolean
  isName?: boolean
}

export interface ProgramCost { id: number, month: string, amount: string, note?: string }
export interface ProgramTag { type: string, value: string }

export interface StoredProgram {
  id: number
  name: string
  type: string
  description?: string
  /** The program's folder (Marketing Activities tree); its name is the parent of treePath. */
  folderId?: number
  workspaceId: number
  workspaceName: string
  treePath: string
  isArchived: boolean
  createdAt: string
  updatedAt: string
  tags: ProgramTag[]
  costs: ProgramCost[]
}

export interface StoredOpportunity { id: number, companyId?: number, createdAt: string, updatedAt: string, fields: Record<string, string> }
export interface StoredRole { id: number, opportunityId: number, personId: number, createdAt: string, updatedAt: string, fields: Record<string, string> }
export interface StoredLead { id: number, companyId?: number, attributes: Record<string, string> }
export interface StoredCompany { id: number, attributes: Record<string, string> }
export interface TagType { type: string, values: string[] }

export interface SeedData {
  tagTypes: TagType[]
  programs: StoredProgram[]
  companies: StoredCompany[]
  leads: StoredLead[]
  opportunityFields: FieldDef[]
  roleFields: FieldDef[]
  opportunities: StoredOpportunity[]
  roles: StoredRole[]
}

/** An MObject as getMObjects returns it. */
export interface ReturnedMObject extends MObject {
  createdAt?: string
  updatedAt?: string
}

export interface ObjectMetadata {
  name: string
  description: string
  isCustom: boolean
  isVirtual: boolean
  fields: FieldDef[]
  updatedAt: string
}

export interface GetMObjectsResult {
  objects: ReturnedMObject[]
  hasMore: boolean
  newStreamPosition: string
}

export const MOBJECT_TYPES = ['Program', 'Opportunity', 'OpportunityPersonRole'] as const
export const PAGE_SIZE = 100
const METADATA_UPDATED_AT = '2014-01-01T00:00:00+00:00'

const PROGRAM_FIELDS: FieldDef[] = [
  { name: 'Id', dataType: 'integer', size: 10, description: 'Unique system id of Program', isReadonly: true, isPrimaryKey: true },
  { name: 'Name', dataType: 'string', size: 255, description: 'Name of the program', isReadonly: true, isName: true },
  { name: 'Type', dataType: 'string', size: 255, description: 'Program type', isReadonly: true },
  { name: 'Workspace Id', dataType: 'integer', size: 10, description: 'Id of the workspace', isReadonly: true },
  { name: 'Workspace Name', dataType: 'string', size: 255, description: 'Name of the workspace', isReadonly: true },
  { name: 'Tree Path', dataType: 'string', size: 2000, description: 'Location in the marketing activities tree', isReadonly: true },
  { name: 'Is Archived', dataType: 'boolean', description: 'Whether the program is archived', isReadonly: true }
]

export function loadSeed (): SeedData {
  return JSON.parse(readFileSync(new URL('./seed.json', import.meta.url), 'utf8')) as SeedData
}

class ItemFailure extends Error {}
const fail = (message: string): never => { throw new ItemFailure(message) }

const NUMBER_RE = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/

function isValidDate (value: string): boolean {
  const m = DATE_RE.exec(value)
  if (!m) return false
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])))
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3])
}

function validValue (def: FieldDef, value: string): boolean {
  switch (def.dataType) {
    case 'integer': return /^[+-]?\d{1,10}$/.test(value) && Math.abs(Number(value)) <= 2_147_483_647
    case 'currency':
    case 'float': return NUMBER_RE.test(value)
    case 'percent': return NUMBER_RE.test(value.endsWith('%') ? value.slice(0, -1) : value)
    case 'boolean': return /^(1|0|true|false)$/i.test(value)
    case 'date': return isValidDate(value)
    case 'datetime': return isValidDate(value) || (/^\d{4}-\d{2}-\d{2}T/.test(value) && !Number.isNaN(Date.parse(value)))
    default: return def.size === undefined || value.length <= def.size
  }
}

function canonical (def: FieldDef | undefined, value: string): string {
  if (!def) return value
  if (def.dataType === 'boolean') return /^(1|true)$/i.test(value) ? '1' : '0'
  return value
}

function sameValue (def: FieldDef | undefined, a: string | undefined, b: string): boolean {
  if (a === undefined) return false
  if (def && ['integer', 'currency', 'float', 'percent'].includes(def.dataType)) {
    return Number(a.replace(/%$/, '')) === Number(b.replace(/%$/, ''))
  }
  return a === b
}

function attrMap (attribs: Attrib[] | undefined): Map<string, string> {
  const map = new Map<string, string>()
  for (const a of attribs ?? []) map.set(a.name, a.value)
  return map
}

function describeKey (a: Association): string {
  return a.id !== undefined ? `id ${a.id}` : `${a.externalKey?.name ?? ''}=${a.externalKey?.value ?? ''}`
}

function compare (left: string | number | undefined, op: string, right: string): boolean {
  if (left === undefined) return op === 'NE'
  const l = String(left)
  const numeric = NUMBER_RE.test(l) && NUMBER_RE.test(right)
  const c = numeric ? Math.sign(Number(l) - Number(right)) : (l < right ? -1 : l > right ? 1 : 0)
  switch (op) {
    case 'EQ': return c === 0
    case 'NE': return c !== 0
    case 'LT': return c < 0
    case 'LE': return c <= 0
    case 'GT': return c > 0
    case 'GE': return c >= 0
    default: throw new SimulatorFault(20110, `Invalid comparison: ${op.slice(0, 20)}`)
  }
}

/** A program as the REST face creates it (channel and type only here: programs.md). */
export interface NewProgram {
  name: string
  type: string
  channel: string
  folderId: number
  description?: string
  costs?: Array<{ month: string, amount: string, note?: string }>
  tags?: ProgramTag[]
}

/** A REST program update: name, description, tags and costs only (programs.md). */
export interface ProgramChanges {
  name?: string
  description?: string
  costs?: Array<{ month: string, amount: string, note?: string }>
  /** Replace every cost line with `costs` (none: clear them). */
  costsDestructiveUpdate?: boolean
  tags?: ProgramTag[]
}

/** Why a program operation was refused. */
export class ProgramRefusal extends Error {
  constructor (readonly reason: 'not-found' | 'folder-not-found' | 'name-taken' | 'invalid-tag' | 'invalid', message: string) { super(message) }
}

export interface SyncOptions {
  /** Indexes answered FAILED without being applied (fault injection). */
  failObjects?: ReadonlySet<number>
  /** Roles are identified by (opportunity, person, role), REST's compound dedupe key, instead of
   *  the SOAP face's (opportunity, person). */
  roleKeyIncludesRole?: boolean
}

export class SimulatorStore {
  readonly seed: SeedData
  readonly clock: () => Date
  // The records are private: the faces change them only through the domain operations below
  // (sync, remove, the program operations) and read them through the lookups.
  private programMap = new Map<number, StoredProgram>()
  private opportunityMap = new Map<number, StoredOpportunity>()
  private roleMap = new Map<number, StoredRole>()
  private leadMap = new Map<number, StoredLead>()
  private companyMap = new Map<number, StoredCompany>()
  private tagTypeMap = new Map<string, Set<string>>()
  private opportunityFieldMap = new Map<string, FieldDef>()
  private roleFieldMap = new Map<string, FieldDef>()
  private nextOpportunityId = 1
  private nextRoleId = 1
  private nextCostId = 1

  constructor (seed: SeedData, clock: () => Date = () => new Date()) {
    this.seed = structuredClone(seed)
    this.clock = clock
    this.reset()
  }

  reset (): void {
    const s = structuredClone(this.seed)
    this.programMap = new Map(s.programs.map((p) => [p.id, p]))
    this.opportunityMap = new Map(s.opportunities.map((o) => [o.id, o]))
    this.roleMap = new Map(s.roles.map((r) => [r.id, r]))
    this.leadMap = new Map(s.leads.map((l) => [l.id, l]))
    this.companyMap = new Map(s.companies.map((c) => [c.id, c]))
    this.tagTypeMap = new Map(s.tagTypes.map((t) => [t.type, new Set(t.values)]))
    this.opportunityFieldMap = new Map(s.opportunityFields.map((f) => [f.name, f]))
    this.roleFieldMap = new Map(s.roleFields.map((f) => [f.name, f]))
    const maxId = (ids: Iterable<number>): number => Math.max(0, ...ids)
    this.nextOpportunityId = maxId(this.opportunityMap.keys()) + 1
    this.nextRoleId = maxId(this.roleMap.keys()) + 1
    this.nextCostId = maxId(s.programs.flatMap((p) => p.costs.map((c) => c.id))) + 1
  }

  // ------------------------------------------------------------- lookups

  /** Read-only views for inspection (tests, the admin path); the records must not be changed. */
  get programs (): ReadonlyMap<number, Readonly<StoredProgram>> { return this.programMap }
  get opportunities (): ReadonlyMap<number, Readonly<StoredOpportunity>> { return this.opportunityMap }
  get roles (): ReadonlyMap<number, Readonly<StoredRole>> { return this.roleMap }
  get leads (): ReadonlyMap<number, Readonly<StoredLead>> { return this.leadMap }
  get companies (): ReadonlyMap<number, Readonly<StoredCompany>> { return this.companyMap }

  program (id: number): Readonly<StoredProgram> | undefined { return this.programMap.get(id) }
  opportunity (id: number): Readonly<StoredOpportunity> | undefined { return this.opportunityMap.get(id) }
  role (id: number): Readonly<StoredRole> | undefined { return this.roleMap.get(id) }

  /** Whether the tag type exists and allows the value (the instance's tag tree). */
  isTagValue (type: string, value: string): boolean { return this.tagTypeMap.get(type)?.has(value) === true }

  /** Opportunities matching a predicate, in id order. */
  findOpportunities (match: (o: Readonly<StoredOpportunity>) => boolean): Array<Readonly<StoredOpportunity>> {
    return [...this.opportunityMap.values()].filter(match).sort((a, b) => a.id - b.id)
  }

  /** Roles matching a predicate (given the role and its opportunity), in id order. */
  findRoles (match: (r: Readonly<StoredRole>, opportunity: Readonly<StoredOpportunity> | undefined) => boolean): Array<Readonly<StoredRole>> {
    return [...this.roleMap.values()].filter((r) => match(r, this.opportunityMap.get(r.opportunityId))).sort((a, b) => a.id - b.id)
  }

  /** Programs matching a predicate, in id order. */
  findPrograms (match: (p: Readonly<StoredProgram>) => boolean): Array<Readonly<StoredProgram>> {
    return [...this.programMap.values()].filter(match).sort((a, b) => a.id - b.id)
  }

  /** The folder a program sits in: its id and name (the parent segment of its tree path). */
  folderOf (p: Readonly<StoredProgram>): { id: number, name: string } {
    const segments = p.treePath.split('/').filter((x) => x !== '')
    return { id: p.folderId ?? p.workspaceId, name: segments.at(-2) ?? p.workspaceName }
  }

  // ------------------------------------------------------------ programs

  private checkTags (tags: readonly ProgramTag[]): void {
    for (const t of tags) {
      if (!this.isTagValue(t.type, t.value)) throw new ProgramRefusal('invalid-tag', `Invalid value '${t.value.slice(0, 60)}' for tag type '${t.type.slice(0, 60)}'`)
    }
  }

  createProgram (p: NewProgram): Readonly<StoredProgram> {
    const parent = [...this.programMap.values()].find((x) => this.folderOf(x).id === p.folderId)
    if (parent === undefined) throw new ProgramRefusal('folder-not-found', `Folder ${p.folderId} not found`)
    if ([...this.programMap.values()].some((x) => x.name === p.name)) throw new ProgramRefusal('name-taken', `Program name '${p.name.slice(0, 80)}' is already in use`)
    if (!this.isTagValue('Channel', p.channel)) throw new ProgramRefusal('invalid-tag', `Invalid channel '${p.channel.slice(0, 60)}'`)
    const tags = (p.tags ?? []).filter((t) => t.type !== 'Channel')
    this.checkTags(tags)
    const folder = this.folderOf(parent)
    const now = this.now()
    const program: StoredProgram = {
      id: Math.max(0, ...this.programMap.keys()) + 1,
      name: p.name,
      type: p.type,
      folderId: folder.id,
      workspaceId: parent.workspaceId,
      workspaceName: parent.workspaceName,
      treePath: `${parent.treePath.split('/').slice(0, -1).join('/')}/${p.name}`,
      isArchived: false,
      createdAt: now,
      updatedAt: now,
      tags: [{ type: 'Channel', value: p.channel }, ...tags.map((t) => ({ ...t }))],
      costs: (p.costs ?? []).map((c) => ({ id: this.nextCostId++, ...c }))
    }
    if (p.description !== undefined) program.description = p.description
    this.programMap.set(program.id, program)
    return program
  }

  /** Applies a REST update; the channel and type cannot change here (they are not in ProgramChanges). */
  updateProgram (id: number, changes: ProgramChanges): Readonly<StoredProgram> {
    const program = this.programMap.get(id)
    if (program === undefined) throw new ProgramRefusal('not-found', `Program ${id} not found`)
    if (changes.name !== undefined && changes.name !== program.name && [...this.programMap.values()].some((x) => x.name === changes.name)) {
      throw new ProgramRefusal('name-taken', `Program name '${changes.name.slice(0, 80)}' is already in use`)
    }
    // The channel is set at creation only; naming the current one changes nothing.
    const channel = program.tags.find((t) => t.type === 'Channel')?.value
    if (changes.tags?.some((t) => t.type === 'Channel' && t.value !== channel)) throw new ProgramRefusal('invalid', 'The channel can only be set when a program is created')
    const tags = (changes.tags ?? []).filter((t) => t.type !== 'Channel')
    this.checkTags(tags)
    let changed = false
    if (changes.name !== undefined && changes.name !== program.name) { program.name = changes.name; changed = true }
    if (changes.description !== undefined && changes.description !== (program.description ?? '')) { program.description = changes.description; changed = true }
    for (const t of tags) {
      const existing = program.tags.find((x) => x.type === t.type)
      if (existing?.value === t.value) continue
      if (existing) existing.value = t.value
      else program.tags.push({ ...t })
      changed = true
    }
    if (changes.costsDestructiveUpdate === true) {
      if (program.costs.length > 0 || (changes.costs ?? []).length > 0) changed = true
      program.costs = []
    }
    for (const c of changes.costs ?? []) {
      const cost: ProgramCost = { id: this.nextCostId++, month: c.month, amount: c.amount }
      if (c.note !== undefined) cost.note = c.note
      program.costs.push(cost)
      changed = true
    }
    if (changed) program.updatedAt = this.now()
    return program
  }

  /** Plain JSON copy of the contents, for tests and the admin path. */
  snapshot (): { programs: StoredProgram[], opportunities: StoredOpportunity[], roles: StoredRole[], leads: StoredLead[], companies: StoredCompany[] } {
    return structuredClone({
      programs: [...this.programMap.values()],
      opportunities: [...this.opportunityMap.values()],
      roles: [...this.roleMap.values()],
      leads: [...this.leadMap.values()],
      companies: [...this.companyMap.values()]
    })
  }

  private now (): string {
    return w3cTimestamp(this.clock())
  }

  // ---------------------------------------------------------------- sync

  sync (operation: SyncOperation, objects: MObject[], options: SyncOptions = {}): MObjStatus[] {
    return objects.map((obj, index) => {
      const status: MObjStatus = { id: obj.id ?? null, status: 'FAILED' }
      if (obj.externalKey) status.externalKey = { ...obj.externalKey }
      if (options.failObjects?.has(index)) return { ...status, error: 'Simulated failure (injected)' }
      try {
        let result: Pick<MObjStatus, 'id' | 'status'>
        if (obj.type === 'Program') result = this.syncProgram(operation, obj)
        else if (obj.type === 'Opportunity') result = this.syncOpportunity(operation, obj)
        else if (obj.type === 'OpportunityPersonRole') result = this.syncRole(operation, obj, options.roleKeyIncludesRole === true)
        else result = fail(`Invalid MObject type '${obj.type}': expected Program, Opportunity or OpportunityPersonRole`)
        return { ...status, ...result }
      } catch (err) {
        if (err instanceof ItemFailure) return { ...status, error: err.message }
        throw err
      }
    })
  }

  private syncProgram (operation: SyncOperation, obj: MObject): Pick<MObjStatus, 'id' | 'status'> {
    if (operation !== 'UPDATE') fail(`Program can only be synced in UPDATE mode, not ${operation}`)
    if (obj.id === undefined) fail(obj.externalKey ? 'Program cannot be identified by externalKey: id is required' : 'Program id is required')
    const id = obj.id as number
    if (obj.attribs?.length) fail(`Program attributes cannot be updated through the API: ${obj.attribs.map((a) => a.name).join(', ')}`)
    if (obj.associations?.length) fail('Associations are not supported for Program')
    const program = this.programMap.get(id)
    if (!program) return { id, status: 'SKIPPED' }

    const costs: { id?: number, month: string, amount: string, note?: string }[] = []
    const tags: ProgramTag[] = []
    for (const ta of obj.typeAttribs ?? []) {
      const attrs = attrMap(ta.attribs)
      if (ta.attrType === 'Cost') {
        for (const name of attrs.keys()) if (!['Month', 'Amount', 'Id', 'Note'].includes(name)) fail(`Unknown Cost attribute '${name}': expected Month, Amount, Id or Note`)
        const month = attrs.get('Month')
        const amount = attrs.get('Amount')
        const costId = attrs.get('Id')
        if (!month) fail('Cost Month is required')
        if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month as string)) fail(`Invalid Cost Month '${month}': expected YYYY-MM`)
        if (!amount) fail('Cost Amount is required')
        if (!NUMBER_RE.test(amount as string)) fail(`Invalid Cost Amount '${amount}'`)
        let cid: number | undefined
        if (costId !== undefined && costId !== '') {
          if (!/^\d{1,10}$/.test(costId)) fail(`Invalid Cost Id '${costId}'`)
          cid = Number(costId)
          if (!program.costs.some((c) => c.id === cid)) fail(`Cost Id ${cid} not found for Program ${id}`)
        }
        costs.push({ id: cid, month: month as string, amount: amount as string, note: attrs.get('Note') })
      } else if (ta.attrType === 'Tag') {
        for (const name of attrs.keys()) if (name !== 'Type' && name !== 'Value') fail(`Unknown Tag attribute '${name}': expected Type and Value`)
        const type = attrs.get('Type')
        const value = attrs.get('Value')
        if (!type) fail('Tag Type is required')
        if (!value) fail('Tag Value is required')
        const allowed = this.tagTypeMap.get(type as string)
        if (!allowed) fail(`Unknown tag type '${type}'`)
        if (!allowed?.has(value as string)) fail(`Invalid value '${value}' for tag type '${type}'`)
        tags.push({ type: type as string, value: value as string })
      } else {
        fail(`Invalid attrType '${ta.attrType}' for Program: expected Cost or Tag`)
      }
    }

    let changed = false
    for (const c of costs) {
      const existing = c.id === undefined ? undefined : program.costs.find((x) => x.id === c.id)
      if (existing) {
        const note = c.note ?? existing.note
        if (existing.month !== c.month || Number(existing.amount) !== Number(c.amount) || existing.note !== note) {
          existing.month = c.month
          existing.amount = c.amount
          if (note !== undefined) existing.note = note
          changed = true
        }
      } else {
        const cost: ProgramCost = { id: this.nextCostId++, month: c.month, amount: c.amount }
        if (c.note !== undefined) cost.note = c.note
        program.costs.push(cost)
        changed = true
      }
    }
    for (const t of tags) {
      const existing = program.tags.find((x) => x.type === t.type)
      if (existing && existing.value === t.value) continue
      if (existing) existing.value = t.value
      else program.tags.push({ ...t })
      changed = true
    }
    if (changed) program.updatedAt = this.now()
    return { id, status: changed ? 'UPDATED' : 'UNCHANGED' }
  }

  private checkFields (typeName: string, defs: Map<string, FieldDef>, attribs: Attrib[] | undefined): Map<string, string> {
    const out = new Map<string, string>()
    for (const a of attribs ?? []) {
      const def = defs.get(a.name)
      if (!def) fail(`Unknown field '${a.name}' for ${typeName}`)
      if (def?.isReadonly) fail(`Field '${a.name}' of ${typeName} is read-only`)
      if (!validValue(def as FieldDef, a.value)) {
        const expected = def?.size !== undefined && ['string', 'text'].includes(def.dataType) ? `at most ${def.size} characters` : `${/^[aeiou]/.test(def?.dataType ?? '') ? 'an' : 'a'} ${def?.dataType} value`
        fail(`Invalid value '${a.value.slice(0, 80)}' for field '${a.name}': expected ${expected}`)
      }
      out.set(a.name, canonical(def, a.value))
    }
    return out
  }

  private findCompany (a: Association): StoredCompany {
    if (a.id !== undefined) return this.companyMap.get(a.id) ?? fail(`Company not found: ${describeKey(a)}`)
    if (!a.externalKey) fail('Company association requires an id or an externalKey')
    const ek = a.externalKey as Attrib
    for (const c of this.companyMap.values()) if (c.attributes[ek.name] === ek.value) return c
    return fail(`Company not found: ${describeKey(a)}`)
  }

  private findLead (a: Association): StoredLead {
    if (a.id !== undefined) return this.leadMap.get(a.id) ?? fail(`Lead not found: ${describeKey(a)}`)
    if (!a.externalKey) fail('Lead association requires an id or an externalKey')
    const ek = a.externalKey as Attrib
    for (const l of this.leadMap.values()) if (l.attributes[ek.name] === ek.value) return l
    return fail(`Lead not found: ${describeKey(a)}`)
  }

  private findOpportunityByKey (ek: Attrib): StoredOpportunity | undefined {
    const def = this.opportunityFieldMap.get(ek.name)
    if (!def || def.isReadonly) fail(`Unknown externalKey field '${ek.name}' for Opportunity`)
    for (const o of this.opportunityMap.values()) if (o.fields[ek.name] === ek.value) return o
    return undefined
  }

  private findOpportunity (a: Association): StoredOpportunity {
    if (a.id !== undefined) return this.opportunityMap.get(a.id) ?? fail(`Opportunity not found: ${describeKey(a)}`)
    if (!a.externalKey) fail('Opportunity association requires an id or an externalKey')
    return this.findOpportunityByKey(a.externalKey as Attrib) ?? fail(`Opportunity not found: ${describeKey(a)}`)
  }

  private syncOpportunity (operation: SyncOperation, obj: MObject): Pick<MObjStatus, 'id' | 'status'> {
    const existing = obj.id !== undefined
      ? this.opportunityMap.get(obj.id)
      : obj.externalKey ? this.findOpportunityByKey(obj.externalKey) : undefined
    const fields = this.checkFields('Opportunity', this.opportunityFieldMap, obj.attribs)
    if (obj.externalKey && !fields.has(obj.externalKey.name)) fields.set(obj.externalKey.name, obj.externalKey.value)
    let companyId: number | undefined
    for (const a of obj.associations ?? []) {
      if (a.mObjType !== 'Company') fail(`Invalid association type '${a.mObjType}' for Opportunity: expected Company`)
      companyId = this.findCompany(a).id
    }

    if (existing) {
      if (operation === 'INSERT') return { id: existing.id, status: 'SKIPPED' }
      let changed = false
      for (const [name, value] of fields) {
        if (!sameValue(this.opportunityFieldMap.get(name), existing.fields[name], value)) {
          existing.fields[name] = value
          changed = true
        }
      }
      if (companyId !== undefined && existing.companyId !== companyId) {
        existing.companyId = companyId
        changed = true
      }
      if (changed) existing.updatedAt = this.now()
      return { id: existing.id, status: changed ? 'UPDATED' : 'UNCHANGED' }
    }
    if (operation === 'UPDATE') return { id: obj.id ?? null, status: 'SKIPPED' }
    if (obj.id !== undefined) fail(`Opportunity ${obj.id} not found: ids are assigned by Marketo, omit id to create`)
    const now = this.now()
    const created: StoredOpportunity = { id: this.nextOpportunityId++, createdAt: now, updatedAt: now, fields: Object.fromEntries(fields) }
    if (companyId !== undefined) created.companyId = companyId
    this.opportunityMap.set(created.id, created)
    return { id: created.id, status: 'CREATED' }
  }

  private syncRole (operation: SyncOperation, obj: MObject, keyIncludesRole: boolean): Pick<MObjStatus, 'id' | 'status'> {
    if (obj.externalKey) fail('externalKey is not supported for OpportunityPersonRole: use id')
    const fields = this.checkFields('OpportunityPersonRole', this.roleFieldMap, obj.attribs)
    let opportunity: StoredOpportunity | undefined
    let lead: StoredLead | undefined
    const oppAttr = fields.get('OpportunityId')
    const personAttr = fields.get('PersonId')
    fields.delete('OpportunityId')
    fields.delete('PersonId')
    if (oppAttr !== undefined) opportunity = this.findOpportunity({ mObjType: 'Opportunity', id: Number(oppAttr) })
    if (personAttr !== undefined) lead = this.findLead({ mObjType: 'Lead', id: Number(personAttr) })
    for (const a of obj.associations ?? []) {
      if (a.mObjType === 'Opportunity') opportunity = this.findOpportunity(a)
      else if (a.mObjType === 'Lead') lead = this.findLead(a)
      else fail(`Invalid association type '${a.mObjType}' for OpportunityPersonRole: expected Lead or Opportunity`)
    }

    let existing: StoredRole | undefined
    if (obj.id !== undefined) {
      existing = this.roleMap.get(obj.id)
      if (!existing) {
        if (operation === 'UPDATE') return { id: obj.id, status: 'SKIPPED' }
        fail(`OpportunityPersonRole ${obj.id} not found: ids are assigned by Marketo, omit id to create`)
      }
    } else {
      if (!opportunity) fail('OpportunityId is required: give the OpportunityId attribute or an Opportunity association')
      if (!lead) fail('PersonId is required: give the PersonId attribute or a Lead association')
      for (const r of this.roleMap.values()) {
        if (r.opportunityId === opportunity?.id && r.personId === lead?.id && (!keyIncludesRole || r.fields.Role === fields.get('Role'))) { existing = r; break }
      }
    }

    if (existing) {
      if (operation === 'INSERT') return { id: existing.id, status: 'SKIPPED' }
      let changed = false
      if (opportunity && existing.opportunityId !== opportunity.id) { existing.opportunityId = opportunity.id; changed = true }
      if (lead && existing.personId !== lead.id) { existing.personId = lead.id; changed = true }
      for (const [name, value] of fields) {
        if (!sameValue(this.roleFieldMap.get(name), existing.fields[name], value)) {
          existing.fields[name] = value
          changed = true
        }
      }
      if (changed) existing.updatedAt = this.now()
      return { id: existing.id, status: changed ? 'UPDATED' : 'UNCHANGED' }
    }
    if (operation === 'UPDATE') return { id: null, status: 'SKIPPED' }
    const now = this.now()
    const role: StoredRole = {
      id: this.nextRoleId++,
      opportunityId: (opportunity as StoredOpportunity).id,
      personId: (lead as StoredLead).id,
      createdAt: now,
      updatedAt: now,
      fields: Object.fromEntries(fields)
    }
    this.roleMap.set(role.id, role)
    return { id: role.id, status: 'CREATED' }
  }

  // -------------------------------------------------------------- delete

  remove (objects: MObject[], options: SyncOptions = {}): MObjStatus[] {
    return objects.map((obj, index): MObjStatus => {
      const id = obj.id ?? null
      if (options.failObjects?.has(index)) return { id, status: 'FAILED', error: 'Simulated failure (injected)' }
      if (obj.type !== 'Opportunity' && obj.type !== 'OpportunityPersonRole') {
        return { id, status: 'FAILED', error: `Delete is not supported for MObject type '${obj.type}': expected Opportunity or OpportunityPersonRole` }
      }
      if (obj.id === undefined) return { id, status: 'FAILED', error: `${obj.type} id is required` }
      if (obj.type === 'Opportunity') {
        if (!this.opportunityMap.delete(obj.id)) return { id, status: 'UNCHANGED' }
        for (const [rid, r] of this.roleMap) if (r.opportunityId === obj.id) this.roleMap.delete(rid)
        return { id, status: 'DELETED' }
      }
      return { id, status: this.roleMap.delete(obj.id) ? 'DELETED' : 'UNCHANGED' }
    })
  }

  // ------------------------------------------------------------ describe

  describe (objectName: string): ObjectMetadata {
    const base = { isCustom: false, isVirtual: false, updatedAt: METADATA_UPDATED_AT }
    if (objectName === 'Opportunity') return { ...base, name: objectName, description: 'Opportunity', fields: [...this.opportunityFieldMap.values()] }
    if (objectName === 'OpportunityPersonRole') return { ...base, name: objectName, description: 'Role of a person (lead) in an opportunity', fields: [...this.roleFieldMap.values()] }
    if (objectName === 'Program') return { ...base, name: objectName, description: 'Marketing program', fields: PROGRAM_FIELDS }
    throw new SimulatorFault(20110, 'Object name is not valid')
  }

  // ----------------------------------------------------------------- get

  get (params: GetMObjectsParams): GetMObjectsResult {
    const { type } = params
    if (!(MOBJECT_TYPES as readonly string[]).includes(type)) throw new SimulatorFault(20110, 'Object name is not valid')
    const { streamPosition, ...query } = params
    const queryKey = JSON.stringify(query)
    let afterId = 0
    if (streamPosition !== undefined) {
      let pos: { t?: unknown, q?: unknown, a?: unknown }
      try {
        pos = JSON.parse(Buffer.from(streamPosition, 'base64url').toString('utf8'))
      } catch {
        throw new SimulatorFault(20122, 'Stream position is bad')
      }
      if (pos?.q !== queryKey || typeof pos.a !== 'number') throw new SimulatorFault(20122, 'Stream position is bad')
      afterId = pos.a
    }
    if (params.externalKey && type !== 'Opportunity') throw new SimulatorFault(20110, `externalKey is not supported for ${type}`)

    let rows: ReturnedMObject[]
    if (type === 'Program') rows = this.filterPrograms(params)
    else if (type === 'Opportunity') rows = this.filterOpportunities(params)
    else rows = this.filterRoles(params)
    rows.sort((a, b) => (a.id as number) - (b.id as number))
    const remaining = rows.filter((r) => (r.id as number) > afterId)
    const page = remaining.slice(0, PAGE_SIZE)
    const last = page.length > 0 ? (page[page.length - 1].id as number) : afterId
    const newStreamPosition = Buffer.from(JSON.stringify({ t: type, q: queryKey, a: last })).toString('base64url')
    return { objects: page, hasMore: remaining.length > PAGE_SIZE, newStreamPosition }
  }

  private criteriaValue (row: ReturnedMObject, attrName: string, known: string[], typeName: string): string | number | undefined {
    if (attrName === 'Id') return row.id
    if (attrName === 'Created At') return row.createdAt
    if (attrName === 'Updated At') return row.updatedAt
    if (!known.includes(attrName)) throw new SimulatorFault(20110, `Invalid criteria attribute '${attrName.slice(0, 60)}' for ${typeName}`)
    return row.attribs?.find((a) => a.name === attrName)?.value
  }

  private filterPrograms (params: GetMObjectsParams): ReturnedMObject[] {
    const tagType = params.criteria.find((c) => c.attrName === 'Tag Type')
    const tagValue = params.criteria.find((c) => c.attrName === 'Tag Value')
    const includeArchive = params.criteria.some((c) => c.attrName === 'Include Archive' && /^(true|1)$/i.test(c.attrValue))
    const known = ['Name', 'Type', 'Workspace Id', 'Workspace Name', 'CRM Id']
    if (params.associations.length) throw new SimulatorFault(20110, 'Associations are not supported for Program')
    const out: ReturnedMObject[] = []
    for (const p of this.programMap.values()) {
      if (params.id !== undefined && p.id !== params.id) continue
      if (p.isArchived && !includeArchive) continue
      const row = this.programToMObject(p, params.includeDetails)
      let ok = true
      for (const c of params.criteria) {
        if (c.attrName === 'Tag Type' || c.attrName === 'Tag Value' || c.attrName === 'Include Archive') continue
        if (!compare(this.criteriaValue(row, c.attrName, known, 'Program'), c.comparison, c.attrValue)) { ok = false; break }
      }
      if (ok && (tagType || tagValue)) {
        ok = p.tags.some((t) => (!tagType || compare(t.type, tagType.comparison, tagType.attrValue)) &&
          (!tagValue || compare(t.value, tagValue.comparison, tagValue.attrValue)))
      }
      if (ok) out.push(row)
    }
    return out
  }

  private filterOpportunities (params: GetMObjectsParams): ReturnedMObject[] {
    const known = [...this.opportunityFieldMap.keys()]
    let companyIds: Set<number> | undefined
    for (const a of params.associations) {
      if (a.mObjType !== 'Company') throw new SimulatorFault(20110, `Invalid association type '${a.mObjType.slice(0, 60)}' for Opportunity`)
      const ids = [...this.companyMap.values()].filter((c) => a.id !== undefined ? c.id === a.id : a.externalKey !== undefined && c.attributes[a.externalKey.name] === a.externalKey.value).map((c) => c.id)
      companyIds = new Set(ids)
    }
    const out: ReturnedMObject[] = []
    for (const o of this.opportunityMap.values()) {
      if (params.id !== undefined && o.id !== params.id) continue
      if (params.externalKey && o.fields[params.externalKey.name] !== params.externalKey.value) continue
      if (companyIds && (o.companyId === undefined || !companyIds.has(o.companyId))) continue
      const row = this.opportunityToMObject(o)
      if (params.criteria.every((c) => compare(this.criteriaValue(row, c.attrName, known, 'Opportunity'), c.comparison, c.attrValue))) out.push(row)
    }
    return out
  }

  private filterRoles (params: GetMObjectsParams): ReturnedMObject[] {
    const known = [...this.roleFieldMap.keys()]
    let oppIds: Set<number> | undefined
    let leadIds: Set<number> | undefined
    for (const a of params.associations) {
      const match = (id: number, attrs: Record<string, string>): boolean => a.id !== undefined ? id === a.id : a.externalKey !== undefined && attrs[a.externalKey.name] === a.externalKey.value
      if (a.mObjType === 'Opportunity') oppIds = new Set([...this.opportunityMap.values()].filter((o) => match(o.id, o.fields)).map((o) => o.id))
      else if (a.mObjType === 'Lead') leadIds = new Set([...this.leadMap.values()].filter((l) => match(l.id, l.attributes)).map((l) => l.id))
      else throw new SimulatorFault(20110, `Invalid association type '${a.mObjType.slice(0, 60)}' for OpportunityPersonRole`)
    }
    const out: ReturnedMObject[] = []
    for (const r of this.roleMap.values()) {
      if (params.id !== undefined && r.id !== params.id) continue
      if (oppIds && !oppIds.has(r.opportunityId)) continue
      if (leadIds && !leadIds.has(r.personId)) continue
      const row = this.roleToMObject(r)
      if (params.criteria.every((c) => compare(this.criteriaValue(row, c.attrName, known, 'OpportunityPersonRole'), c.comparison, c.attrValue))) out.push(row)
    }
    return out
  }

  programToMObject (p: StoredProgram, includeDetails = false): ReturnedMObject {
    const typeAttribs = p.tags.map((t) => ({ attrType: 'Tag', attribs: [{ name: 'Type', value: t.type }, { name: 'Value', value: t.value }] }))
    if (includeDetails) {
      for (const c of p.costs) {
        const attribs = [{ name: 'Id', value: String(c.id) }, { name: 'Month', value: c.month }, { name: 'Amount', value: c.amount }]
        if (c.note !== undefined) attribs.push({ name: 'Note', value: c.note })
        typeAttribs.push({ attrType: 'Cost', attribs })
      }
    }
    return {
      type: 'Program',
      id: p.id,
      createdAt: p.createdAt,
      updatedAt: p.updatedAt,
      attribs: [
        { name: 'Name', value: p.name },
        { name: 'Type', value: p.type },
        { name: 'Workspace Id', value: String(p.workspaceId) },
        { name: 'Workspace Name', value: p.workspaceName },
        { name: 'Tree Path', value: p.treePath },
        { name: 'Is Archived', value: String(p.isArchived) }
      ],
      typeAttribs
    }
  }

  opportunityToMObject (o: StoredOpportunity): ReturnedMObject {
    const attribs: Attrib[] = []
    for (const name of this.opportunityFieldMap.keys()) {
      const value = o.fields[name]
      if (value !== undefined) attribs.push({ name, value })
    }
    const obj: ReturnedMObject = { type: 'Opportunity', id: o.id, createdAt: o.createdAt, updatedAt: o.updatedAt, attribs }
    if (o.companyId !== undefined) obj.associations = [{ mObjType: 'Company', id: o.companyId }]
    return obj
  }

  roleToMObject (r: StoredRole): ReturnedMObject {
    const attribs: Attrib[] = [{ name: 'OpportunityId', value: String(r.opportunityId) }, { name: 'PersonId', value: String(r.personId) }]
    for (const name of this.roleFieldMap.keys()) {
      const value = r.fields[name]
      if (value !== undefined) attribs.push({ name, value })
    }
    return {
      type: 'OpportunityPersonRole',
      id: r.id,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
      attribs,
      associations: [{ mObjType: 'Opportunity', id: r.opportunityId }, { mObjType: 'Lead', id: r.personId }]
    }
  }
}

export function createSimulatorStore (seed: SeedData = loadSeed(), clock?: () => Date): SimulatorStore {
  return new SimulatorStore(seed, clock)
}
