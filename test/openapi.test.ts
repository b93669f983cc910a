import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import SwaggerParser from '@apidevtools/swagger-parser'
import { generateOpenApi } from '../scripts/openapi.js'

const committedPath = new URL('../openapi/openapi.json', import.meta.url)

describe('openapi/openapi.json', () => {
  it('matches what the route schemas generate (run `npm run openapi` after changing a route)', async () => {
    assert.equal(readFileSync(committedPath, 'utf8'), await generateOpenApi())
  })

  it('is a valid OpenAPI document', async () => {
    const doc = JSON.parse(readFileSync(committedPath, 'utf8'))
    await SwaggerParser.validate(doc)
  })

  it('gives every operation an operationId, a tag, and a problem schema for its errors', () => {
    const doc = JSON.parse(readFileSync(committedPath, 'utf8'))
    const ids = new Set<string>()
    for (const [path, item] of Object.entries<Record<string, any>>(doc.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        assert.ok(typeof op.operationId === 'string', `${method} ${path} has an operationId`)
        assert.ok(!ids.has(op.operationId), `unique operationId ${op.operationId}`)
        ids.add(op.operationId)
        assert.ok(op.tags?.length > 0, `${method} ${path} has a tag`)
        for (const [status, response] of Object.entries<any>(op.responses)) {
          if (Number(status) >= 400) {
            assert.equal(response.content['application/json'].schema.$ref, '#/components/schemas/ProblemDetails', `${method} ${path} ${status}`)
          }
        }
      }
    }
    assert.doesNotMatch(JSON.stringify(doc), /def-\d/)
  })
})
