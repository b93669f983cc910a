import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSimulator, type RunningSimulator } from '../../simulator/index.js'
import { startGateway, request } from '../helpers/gateway.js'

// S10: a TLS-terminating front for the simulator, with a self-signed certificate made here.
describe('TLS to Marketo (S10)', () => {
  let dir: string
  let sim: RunningSimulator
  let front: https.Server
  let endpoint: string
  let handshakes = 0
  let forwarded = 0

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gw-tls-'))
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' })
    sim = await startSimulator({ host: '127.0.0.1', port: 0 })
    const target = new URL(sim.endpoint)
    front = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (req, res) => {
      forwarded++
      const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers)
        upRes.pipe(res)
      })
      req.pipe(up)
    })
    front.on('secureConnection', () => { handshakes++ })
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve))
    endpoint = `https://127.0.0.1:${(front.address() as { port: number }).port}${target.pathname}`
  })
  after(async () => {
    front.closeAllConnections()
    await new Promise((resolve) => front.close(resolve))
    await sim.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const body = { opportunities: [{ externalKey: { name: 'opportunityId', value: 'tls-1' }, name: 'over TLS' }] }

  it('without the CA: the call fails (503), nothing reaches the server, even with NODE_TLS_REJECT_UNAUTHORIZED=0', async () => {
    const saved = process.env.NODE_TLS_REJECT_UNAUTHORIZED
    // A casual environment value must not switch verification off: the agent pins rejectUnauthorized.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'
    const gw = await startGateway({ env: { MARKETO_SOAP_ENDPOINT: endpoint, MARKETO_MAX_ATTEMPTS: '1' } })
    try {
      const res = await request(`${gw.url}/opportunities`, { body })
      assert.ok(res.status === 502 || res.status === 503, res.text)
      assert.equal(res.body.code, 'UPSTREAM_UNAVAILABLE')
      assert.equal(forwarded, 0)
      assert.equal(handshakes, 0)
      assert.ok(!res.text.includes('127.0.0.1') && !res.text.includes('self-signed') && !res.text.includes('certificate'), res.text)
    } finally {
      if (saved === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = saved
      await gw.close()
    }
  })

  it('with MARKETO_CA_FILE: the handshake succeeds and the call goes through', async () => {
    const gw = await startGateway({ env: { MARKETO_SOAP_ENDPOINT: endpoint, MARKETO_CA_FILE: join(dir, 'cert.pem') } })
    try {
      const res = await request(`${gw.url}/opportunities`, { body })
      assert.ok(handshakes >= 1)
      assert.equal(forwarded, 1)
      assert.equal(res.status, 200, res.text)
      assert.equal(sim.ledger.length, 1)
    } finally {
      await gw.close()
    }
  })
})
