import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import openapiTS, { astToString } from 'openapi-typescript'
import { startGateway, type TestGateway } from '../helpers/gateway.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))
const spec = JSON.parse(readFileSync(join(root, 'openapi/openapi-3.0.json'), 'utf8'))
const operationIds: string[] = Object.values<Record<string, { operationId: string }>>(spec.paths).flatMap((item) => Object.values(item).map((op) => op.operationId))
// Bulk jobs need Redis (REDIS_URL); test/jobs/ runs them against a real redis-server.
const jobOperations = new Set(Object.values<Record<string, { operationId: string, tags?: string[] }>>(spec.paths).flatMap((item) => Object.values(item)).filter((op) => op.tags?.includes('jobs') === true).map((op) => op.operationId))

// As in client.test.ts (the 3.1 client): strict, the generated declarations checked too.
const clientTsconfig = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2023'],
    types: ['node'],
    strict: true,
    noUncheckedIndexedAccess: true,
    skipLibCheck: false,
    noEmit: true
  },
  files: ['api.d.ts', 'program.ts']
}

describe('a client generated from openapi/openapi-3.0.json (openapi-typescript + openapi-fetch)', () => {
  let gw: TestGateway
  let dir: string

  before(async () => {
    mkdirSync(join(root, '.tmp'), { recursive: true })
    dir = mkdtempSync(join(root, '.tmp', 'client-3.0-'))
    gw = await startGateway({ env: { AUTH_DISABLED: 'i-understand-the-risk' } })
  })
  after(async () => {
    await gw?.close()
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  })

  it('generates the types from the committed 3.0.3 document, nullable fields as `| null`', async () => {
    assert.equal(spec.openapi, '3.0.3')
    const source = astToString(await openapiTS(spec))
    writeFileSync(join(dir, 'api.d.ts'), source)
    for (const id of operationIds) assert.match(source, new RegExp(`\\b${id}: \\{`), id)
    assert.match(source, /nextCursor: string \| null;/)
    assert.match(source, /id: number \| null;/)
    // The same consumer program as the 3.1 client: both documents must give it the same types.
    copyFileSync(join(root, 'test/ecosystem/client/program.ts.template'), join(dir, 'program.ts'))
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(clientTsconfig, null, 2))
  })

  it('type-checks the client program with tsc --noEmit (strict, generated declarations included)', async () => {
    let output = ''
    try {
      await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { cwd: dir, timeout: 120_000 })
    } catch (err) {
      output = String((err as { stdout?: string }).stdout ?? err)
    }
    assert.equal(output, '')
  })

  it('runs against a live gateway: every operation, 200s, a 207 and problems, all through the generated types', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(dir, 'program.ts'), gw.url], { cwd: root, timeout: 60_000 })
    const calls: Array<{ operationId: string, status: number }> = JSON.parse(stdout.trim().split('\n').pop() ?? '[]')
    for (const id of operationIds.filter((o) => !jobOperations.has(o))) {
      assert.ok(calls.some((c) => c.operationId === id && (c.status === 200 || c.status === 207)), `a success for ${id}`)
    }
    assert.ok(calls.some((c) => c.status === 207), 'a 207')
    assert.deepEqual(calls.filter((c) => c.status >= 400).map((c) => c.status).sort(), [400, 404])
  })
})
