import { describe, it, afterEach } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { Writable } from 'node:stream'
import { loggerOptions } from '../../src/app.js'
import { EnvSchema, loadConfig } from '../../src/config.js'

const config = loadConfig({ LOG_LEVEL: 'debug' })
const tty = process.stdout.isTTY
const nodeEnv = process.env.NODE_ENV

function restore (): void {
  process.stdout.isTTY = tty
  if (nodeEnv === undefined) delete process.env.NODE_ENV
  else process.env.NODE_ENV = nodeEnv
}

describe('loggerOptions', () => {
  afterEach(restore)

  it('pretty-prints through pino-pretty on a terminal', () => {
    process.stdout.isTTY = true
    delete process.env.NODE_ENV
    const opts = loggerOptions(config) as { level: string, transport?: { target: string } }
    assert.equal(opts.level, 'debug')
    assert.equal(opts.transport?.target, 'pino-pretty')
  })

  it('writes JSON when stdout is not a terminal, in production, or to a given stream', () => {
    process.stdout.isTTY = false
    assert.equal((loggerOptions(config) as { transport?: unknown }).transport, undefined)
    process.stdout.isTTY = true
    process.env.NODE_ENV = 'production'
    assert.equal((loggerOptions(config) as { transport?: unknown }).transport, undefined)
    delete process.env.NODE_ENV
    const stream = new Writable({ write (_c, _e, cb) { cb() } })
    const opts = loggerOptions(config, stream) as { transport?: unknown, stream?: unknown }
    assert.equal(opts.transport, undefined)
    assert.equal(opts.stream, stream)
  })
})

describe('.env.example', () => {
  const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
  const listed = [...text.matchAll(/^#? ?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1])

  it('lists every variable of EnvSchema, and nothing else', () => {
    const keys = Object.keys(EnvSchema.properties)
    assert.deepEqual(keys.filter((k) => !listed.includes(k)), [], 'add these to .env.example')
    assert.deepEqual(listed.filter((k) => !keys.includes(k)), [], 'not in EnvSchema')
  })

  it('is a valid configuration as it stands (its values are the defaults)', () => {
    const env: Record<string, string> = {}
    for (const m of text.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)) env[m[1]] = m[2]
    assert.doesNotThrow(() => loadConfig(env))
  })
})
