import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import SwaggerParser from '@apidevtools/swagger-parser'
import { createConfig, lintFromString } from '@redocly/openapi-core'
import { generateOpenApi30 } from '../scripts/openapi.js'
import { toOpenApi30 } from '../src/http/plugins/openapi-3.0.js'
import { startGateway, request, type TestGateway } from './helpers/gateway.js'

const committedPath = new URL('../openapi/openapi-3.0.json', import.meta.url)
const committed = (): any => JSON.parse(readFileSync(committedPath, 'utf8'))
const doc31 = JSON.parse(readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8'))

// Every schema object of a document, with its JSON pointer.
function * schemas (node: unknown, pointer = ''): Generator<[string, Record<string, unknown>]> {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) yield * schemas(item, `${pointer}/${i}`)
  } else if (typeof node === 'object' && node !== null) {
    yield [pointer, node as Record<string, unknown>]
    for (const [k, v] of Object.entries(node)) yield * schemas(v, `${pointer}/${k}`)
  }
}

describe('openapi/openapi-3.0.json', () => {
  it('matches what the route schemas generate (run `npm run openapi` after changing a route)', async () => {
    assert.equal(readFileSync(committedPath, 'utf8'), await generateOpenApi30())
  })

  it('is OpenAPI 3.0.3 with the same operations as the 3.1 document', () => {
    const doc = committed()
    assert.equal(doc.openapi, '3.0.3')
    const ops = (d: any): string[] => Object.entries<Record<string, any>>(d.paths).flatMap(([p, item]) => Object.entries(item).map(([m, op]) => `${m} ${p} ${op.operationId}`)).sort()
    assert.deepEqual(ops(doc), ops(doc31))
    assert.deepEqual(Object.keys(doc.components.schemas).sort(), Object.keys(doc31.components.schemas).sort())
  })

  it('has no JSON Schema 2020-12 left: no type null or type arrays, no const, no schema examples arrays', () => {
    for (const [pointer, node] of schemas(committed())) {
      assert.ok(node.type !== 'null' && !Array.isArray(node.type), `${pointer}: type ${JSON.stringify(node.type)}`)
      assert.ok(!('const' in node) && !('$schema' in node) && !('prefixItems' in node), pointer)
      if (/\/schema(\/|$)|\/components\/schemas\//.test(pointer) && !/\/(properties|examples)$/.test(pointer)) {
        assert.ok(!Array.isArray(node.examples), `${pointer}: examples is an array`)
      }
    }
  })

  it('keeps nullability as nullable: true (the ids and cursors that may be null)', () => {
    const s = committed().components.schemas
    assert.deepEqual(s.ObjectResult.properties.id, { description: doc31.components.schemas.ObjectResult.properties.id.description, nullable: true, type: 'integer' })
    assert.equal(s.OpportunityPage.properties.nextCursor.nullable, true)
    assert.equal(s.OpportunityPage.properties.nextCursor.type, 'string')
    const nullable = [...schemas(committed())].filter(([, n]) => n.nullable === true).length
    const nullBranches = [...schemas(doc31)].filter(([, n]) => n.type === 'null').length
    assert.equal(nullable, nullBranches, 'one nullable per null branch of the 3.1 document')
  })

  it('is valid for @apidevtools/swagger-parser', async () => {
    await SwaggerParser.validate(committed())
  })

  it('passes @redocly/openapi-core lint (recommended ruleset) with no error', async () => {
    const config = await createConfig({ extends: ['recommended'] })
    const problems = await lintFromString({ source: readFileSync(committedPath, 'utf8'), absoluteRef: 'openapi-3.0.json', config })
    assert.deepEqual(problems.filter((p) => p.severity === 'error').map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer ?? ''}`), [])
    // The same warnings as the 3.1 document, nothing new: no license in info; the health routes have no 4xx.
    const warnings = problems.map((p) => `${p.ruleId} ${p.location[0]?.pointer ?? ''}`).sort()
    assert.deepEqual(warnings, ['info-license #/info', 'operation-4xx-response #/paths/~1healthz/get/responses', 'operation-4xx-response #/paths/~1readyz/get/responses'])
  })
})

describe('toOpenApi30', () => {
  it('turns null branches into nullable, merging the other branch or wrapping a $ref in allOf', () => {
    const out = toOpenApi30({
      openapi: '3.1.0',
      info: { title: 't', version: '1' },
      paths: {},
      components: {
        schemas: {
          A: { type: 'object', properties: { n: { description: 'd', anyOf: [{ type: 'integer', minimum: 0 }, { type: 'null' }] } } },
          B: { anyOf: [{ $ref: '#/components/schemas/A' }, { type: 'null' }] },
          C: { oneOf: [{ type: 'string' }, { type: 'integer' }, { type: 'null' }] },
          D: { type: ['string', 'null'] }
        }
      }
    }) as any
    const s = out.components.schemas
    assert.equal(out.openapi, '3.0.3')
    assert.deepEqual(s.A.properties.n, { description: 'd', nullable: true, type: 'integer', minimum: 0 })
    assert.deepEqual(s.B, { nullable: true, allOf: [{ $ref: '#/components/schemas/A' }] })
    assert.deepEqual(s.C, { nullable: true, oneOf: [{ type: 'string' }, { type: 'integer' }] })
    assert.deepEqual(s.D, { type: 'string', nullable: true })
  })
})

describe('GET /openapi-3.0.json', () => {
  let gw: TestGateway
  before(async () => { gw = await startGateway() })
  after(async () => { await gw.close() })

  it('serves the committed 3.0.3 document without an API key, and stays out of both documents', async () => {
    const res = await request(`${gw.url}/openapi-3.0.json`, { auth: false })
    assert.equal(res.status, 200, res.text)
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
    assert.deepEqual(res.body, committed())
    assert.equal(res.body.paths['/openapi-3.0.json'], undefined)
    const doc = await request(`${gw.url}/openapi.json`, { auth: false })
    assert.equal(doc.body.paths['/openapi-3.0.json'], undefined)
  })
})
