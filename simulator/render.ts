import type { Association, Attrib, MObjStatus } from './model.js'
import { escapeXml } from './faults.js'
import type { GetMObjectsResult, ObjectMetadata, ReturnedMObject } from './store.js'

const HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="http://www.marketo.com/mktows/"'
const TAIL = '</SOAP-ENV:Body></SOAP-ENV:Envelope>\n'

export function envelope (body: string, withXsi = false): string {
  return HEAD + (withXsi ? ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' : '') + '><SOAP-ENV:Body>' + body + TAIL
}

function attrib (tag: string, a: Attrib): string {
  return `<${tag}><name>${escapeXml(a.name)}</name><value>${escapeXml(a.value)}</value></${tag}>`
}

export function renderStatuses (statuses: MObjStatus[]): string {
  let out = '<mObjStatusList>'
  for (const s of statuses) {
    out += `<mObjStatus><id>${s.id ?? 0}</id>`
    if (s.externalKey) out += attrib('externalKey', s.externalKey)
    out += `<status>${s.status}</status>`
    if (s.error !== undefined) out += `<error>${escapeXml(s.error)}</error>`
    out += '</mObjStatus>'
  }
  return out + '</mObjStatusList>'
}

export function renderSync (statuses: MObjStatus[]): string {
  return envelope(`<ns1:successSyncMObjects><result>${renderStatuses(statuses)}</result></ns1:successSyncMObjects>`)
}

export function renderDelete (statuses: MObjStatus[]): string {
  return envelope(`<ns1:successDeleteMObjects><result>${renderStatuses(statuses)}</result></ns1:successDeleteMObjects>`)
}

function renderAssociation (a: Association): string {
  let out = `<mObjAssociation><mObjType>${escapeXml(a.mObjType)}</mObjType>`
  if (a.id !== undefined) out += `<id>${a.id}</id>`
  if (a.externalKey) out += attrib('externalKey', a.externalKey)
  return out + '</mObjAssociation>'
}

export function renderMObject (o: ReturnedMObject): string {
  let out = `<mObject><type>${escapeXml(o.type)}</type>`
  if (o.id !== undefined) out += `<id>${o.id}</id>`
  if (o.externalKey) out += attrib('externalKey', o.externalKey)
  if (o.createdAt) out += `<createdAt>${o.createdAt}</createdAt>`
  if (o.updatedAt) out += `<updatedAt>${o.updatedAt}</updatedAt>`
  if (o.attribs?.length) out += '<attribList>' + o.attribs.map((a) => attrib('attrib', a)).join('') + '</attribList>'
  if (o.typeAttribs?.length) {
    out += '<typeAttribList>'
    for (const t of o.typeAttribs) {
      out += `<typeAttrib><attrType>${escapeXml(t.attrType)}</attrType><attrList>${t.attribs.map((a) => attrib('attrib', a)).join('')}</attrList></typeAttrib>`
    }
    out += '</typeAttribList>'
  }
  if (o.associations?.length) out += '<associationList>' + o.associations.map(renderAssociation).join('') + '</associationList>'
  return out + '</mObject>'
}

export function renderGet (r: GetMObjectsResult): string {
  let out = `<ns1:successGetMObjects><result><returnCount>${r.objects.length}</returnCount><hasMore>${r.hasMore}</hasMore>` +
    `<newStreamPosition>${escapeXml(r.newStreamPosition)}</newStreamPosition>`
  if (r.objects.length) out += '<mObjectList>' + r.objects.map(renderMObject).join('') + '</mObjectList>'
  return envelope(out + '</result></ns1:successGetMObjects>')
}

const nil = (tag: string, value: string | number | undefined): string =>
  value === undefined ? `<${tag} xsi:nil="true"/>` : `<${tag}>${typeof value === 'number' ? value : escapeXml(value)}</${tag}>`

export function renderDescribe (m: ObjectMetadata): string {
  let out = `<ns1:successDescribeMObject><result><metadata><name>${escapeXml(m.name)}</name><description>${escapeXml(m.description)}</description>` +
    `<isCustom>${m.isCustom}</isCustom><isVirtual>${m.isVirtual}</isVirtual><fieldList>`
  for (const f of m.fields) {
    const readonly = f.isReadonly === true
    out += `<field><name>${escapeXml(f.name)}</name>${nil('description', f.description)}${nil('displayName', f.displayName)}` +
      `<sourceObject>${escapeXml(m.name)}</sourceObject><dataType>${escapeXml(f.dataType)}</dataType>${nil('size', f.size)}` +
      `<isReadonly>${readonly}</isReadonly><isUpdateBlocked>${readonly}</isUpdateBlocked><isName>${f.isName === true}</isName>` +
      `<isPrimaryKey>${f.isPrimaryKey === true}</isPrimaryKey><isCustom>${f.isCustom === true}</isCustom><isDynamic>false</isDynamic>` +
      `<dynamicFieldRef xsi:nil="true"/><updatedAt>${m.updatedAt}</updatedAt></field>`
  }
  out += `</fieldList><updatedAt>${m.updatedAt}</updatedAt></metadata></result></ns1:successDescribeMObject>`
  return envelope(out, true)
}
