import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'

const run = promisify(execFile)
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

// Every curl command of the README's sh blocks, joined across line continuations.
const commands = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap((m) => m[1].replace(/\\\n\s*/g, ' ').split('\n'))
  .filter((line) => line.startsWith('curl ') && line.includes('http://127.0.0.1:3000'))

describe('README curl examples work as written against the simulator', () => {
  // Exactly as `npm start` runs it: no Marketo settings, so the embedded simulator.
  let app: FastifyInstance
  let url: string
  before(async () => {
    app = await buildApp(loadConfig({ PORT: '0', LOG_LEVEL: 'warn' }))
    await app.listen({ host: '127.0.0.1', port: 0 })
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  })
  after(async () => { await app.close() })

  it('has a curl example for every write route', () => {
    for (const route of ['/programs/1970/costs', '/programs/1970/tags', '3000/opportunities ', '-X PATCH', '/opportunities/roles', '/mobjects/sync']) {
      assert.ok(commands.some((c) => c.includes(route)), `example for ${route}: ${commands.join('\n')}`)
    }
  })

  for (const command of commands) {
    it(command.slice(0, 90), async () => {
      const local = command.replaceAll('http://127.0.0.1:3000', url).replace(/^curl -s/, 'curl -s -w "\\n%{http_code}"')
      const { stdout } = await run('sh', ['-c', local], { timeout: 10_000 })
      const lines = stdout.trimEnd().split('\n')
      const status = Number(lines.pop())
      const body = JSON.parse(lines.join('\n'))
      assert.equal(status, 200, JSON.stringify(body))
      if (body.summary !== undefined) assert.equal(body.summary.failed + body.summary.unknown + body.summary.notApplied, 0)
    })
  }
})
