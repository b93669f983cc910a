import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { createServer, connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { request, startGateway } from '../helpers/gateway.js'

// The Redis password (in REDIS_URL or REDIS_PASSWORD) never reaches a log line, at any level,
// whether it is right or wrong. A redis-server of its own, with requirepass.
const PASSWORD = `pw-${randomUUID()}`
const WRONG = `wrong-${randomUUID()}`
let child: ChildProcess
let port: number

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0))
    })
  })
}

function answers (): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port })
    s.setTimeout(300, () => { s.destroy(); resolve(false) })
    s.once('error', () => resolve(false))
    s.once('connect', () => s.write('PING\r\n'))
    s.once('data', () => { s.destroy(); resolve(true) })
  })
}

before(async () => {
  port = await freePort()
  child = spawn(process.env.REDIS_SERVER ?? 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', PASSWORD], { stdio: 'ignore' })
  for (let i = 0; i < 100 && !(await answers()); i++) await sleep(50)
})
after(() => {
  if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL')
})

describe('the Redis password', () => {
  it('is used from REDIS_URL and from REDIS_PASSWORD, and never logged, right or wrong', async () => {
    const gateways: Array<{ env: Record<string, string>, works: boolean }> = [
      { env: { REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${port}` }, works: true },
      { env: { REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_PASSWORD: PASSWORD }, works: true },
      { env: { REDIS_URL: `redis://:${WRONG}@127.0.0.1:${port}` }, works: false }
    ]
    for (const g of gateways) {
      const gw = await startGateway({ backend: 'soap', env: { ...g.env, LOG_LEVEL: 'trace' } })
      try {
        const key = randomUUID()
        const r = await request(`${gw.url}/opportunities`, { method: 'POST', headers: { 'idempotency-key': key }, body: { operation: 'insert', opportunities: [{ name: key, externalKey: { name: 'opportunityId', value: key } }] } })
        // With the right password the keyed request is served; with a wrong one, refused (fail closed).
        assert.equal(r.status, g.works ? 200 : 503, JSON.stringify(r.body))
        const ready = await request(`${gw.url}/readyz`)
        assert.equal(ready.body.redis.status, g.works ? 'up' : 'down')
        assert.ok(!JSON.stringify(ready.body).includes(PASSWORD) && !JSON.stringify(ready.body).includes(WRONG))
      } finally {
        await gw.close()
      }
      const logs = gw.logs.join('')
      assert.ok(logs.includes('127.0.0.1'), 'the Redis address is logged')
      assert.ok(!logs.includes(PASSWORD), 'the password is not')
      assert.ok(!logs.includes(WRONG), 'nor a wrong one')
    }
  })
})
