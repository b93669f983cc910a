import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parse } from 'yaml'

// No Docker engine here: what can be checked without one is checked. The files the Dockerfile
// copies exist, the compose file has the wiring, and the image's CMDs and HEALTHCHECKs run for
// real against the built dist/ with the same environment as in compose.
const root = fileURLToPath(new URL('../../', import.meta.url))
const run = promisify(execFile)
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8')
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'))

// Dockerfile instructions, continuation lines joined.
const instructions = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
const stages = instructions.join('\n').split(/^FROM /m).slice(1).map((s) => ('FROM ' + s).split('\n'))
const runtime = stages[stages.length - 1]
const execForm = (line: string, keyword: string): string[] => JSON.parse(line.slice(line.indexOf(keyword) + keyword.length).trim())

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address()
      srv.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

function start (argv: string[], env: Record<string, string>, ready: RegExp): { child: ChildProcess, ready: Promise<void> } {
  const [cmd, ...args] = argv
  assert.equal(cmd, 'node')
  const child = spawn(process.execPath, args, { cwd: root, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const isReady = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(' ')} did not start:\n${out}`)), 20_000)
    const onData = (chunk: Buffer): void => {
      out += String(chunk)
      if (ready.test(out)) { clearTimeout(timer); resolve() }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${args.join(' ')} exited ${code}:\n${out}`)) })
  })
  return { child, ready: isReady }
}

// Runs a healthcheck exactly as Docker would (exec form, `node` on PATH), answers its exit code.
async function healthcheck (argv: string[], env: Record<string, string>): Promise<number> {
  const [cmd, ...args] = argv
  assert.equal(cmd, 'node', 'the healthcheck uses node itself (no curl in node:22-slim)')
  try {
    await run(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 10_000 })
    return 0
  } catch (err) {
    return (err as { code?: number }).code ?? 1
  }
}

describe('Dockerfile and .dockerignore', () => {
  it('is multi-stage on node:22-slim: npm ci + build, then a production-only runtime as node', () => {
    assert.ok(stages.length >= 2, 'multi-stage')
    for (const stage of stages) assert.match(stage[0], /^FROM node:22-slim\b/)
    assert.ok(stages[0].some((l) => l === 'RUN npm ci'))
    assert.ok(stages[0].some((l) => l === 'RUN npm run build'))
    assert.ok(runtime.some((l) => /^RUN npm ci --omit=dev\b/.test(l)))
    assert.ok(runtime.some((l) => l === 'USER node'))
    const env = runtime.filter((l) => l.startsWith('ENV ')).join(' ')
    assert.match(env, /\bHOST=0\.0\.0\.0\b/)
    assert.match(env, /\bNODE_ENV=production\b/)
    assert.deepEqual(execForm(runtime.find((l) => l.startsWith('CMD ')) ?? '', 'CMD'), ['node', 'dist/src/server.js'])
    assert.ok(runtime.some((l) => l.startsWith('HEALTHCHECK ')))
  })

  it('copies only files that exist and that .dockerignore lets through', () => {
    const ignored = readFileSync(join(root, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('!'))
    const copies = instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from='))
    assert.ok(copies.length > 0)
    for (const line of copies) {
      const parts = line.split(/\s+/).slice(1).filter((p) => !p.startsWith('--'))
      for (const source of parts.slice(0, -1)) {
        assert.ok(existsSync(join(root, source)), `COPY source ${source} exists`)
        assert.ok(!ignored.includes(source) && !ignored.includes(source.split('/')[0]), `${source} is not in .dockerignore`)
      }
    }
    for (const secret of ['.env', '.git', 'node_modules']) assert.ok(ignored.includes(secret), `${secret} stays out of the build context`)
  })
})

describe('docker-compose.yml', () => {
  it('runs the gateway and the simulator from one image, the gateway after a healthy simulator', () => {
    const { gateway, simulator } = compose.services
    assert.ok(gateway !== undefined && simulator !== undefined)
    assert.equal(gateway.image, simulator.image, 'one image')
    assert.ok(simulator.build !== undefined || gateway.build !== undefined, 'built from the Dockerfile')
    assert.deepEqual(simulator.command, ['node', 'dist/simulator/server.js'])
    assert.equal(simulator.environment.SIMULATOR_HOST, '0.0.0.0')
    assert.deepEqual(gateway.depends_on, { simulator: { condition: 'service_healthy' } })
    assert.equal(gateway.environment.HOST, '0.0.0.0')
    assert.equal(gateway.environment.MARKETO_SOAP_ENDPOINT, `http://simulator:${simulator.environment.SIMULATOR_PORT}/soap/mktows/2_3`)
    assert.equal(gateway.environment.MARKETO_USER_ID, simulator.environment.SIMULATOR_USER_ID)
    assert.equal(gateway.environment.MARKETO_ENCRYPTION_KEY, simulator.environment.SIMULATOR_ENCRYPTION_KEY)
    assert.equal(simulator.healthcheck.test[0], 'CMD')
    assert.equal(gateway.healthcheck.test[0], 'CMD')
  })
})

describe('the image\'s commands, run outside Docker', () => {
  const children: ChildProcess[] = []
  let simPort: number
  let gwPort: number
  let simEnv: Record<string, string>
  let gwEnv: Record<string, string>

  before(async () => {
    // Build once, unless dist/ is newer than every source file.
    const newest = (dir: string): number => {
      let t = 0
      for (const entry of readdirRecursive(join(root, dir))) t = Math.max(t, statSync(entry).mtimeMs)
      return t
    }
    const built = existsSync(join(root, 'dist/src/server.js')) && existsSync(join(root, 'dist/simulator/server.js'))
    if (!built || Math.max(newest('src'), newest('simulator')) > newest('dist')) await run('npm', ['run', 'build'], { cwd: root, timeout: 180_000 })

    simPort = await freePort()
    gwPort = await freePort()
    const dockerEnv = Object.fromEntries(runtime.filter((l) => l.startsWith('ENV ')).flatMap((l) => [...l.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])))
    // Compose's environment, with loopback addresses and free ports instead of the container network.
    simEnv = { ...dockerEnv, ...compose.services.simulator.environment, SIMULATOR_HOST: '127.0.0.1', SIMULATOR_PORT: String(simPort) }
    gwEnv = {
      ...dockerEnv,
      ...compose.services.gateway.environment,
      HOST: '127.0.0.1',
      PORT: String(gwPort),
      MARKETO_SOAP_ENDPOINT: compose.services.gateway.environment.MARKETO_SOAP_ENDPOINT.replace('simulator:8081', `127.0.0.1:${simPort}`),
      AUTH_DISABLED: 'i-understand-the-risk'
    }
    const sim = start(compose.services.simulator.command, simEnv, /simulator ready/)
    children.push(sim.child)
    await sim.ready
  })
  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL')
  })

  it('the simulator\'s compose healthcheck passes', async () => {
    assert.equal(await healthcheck(compose.services.simulator.healthcheck.test.slice(1), simEnv), 0)
  })

  it('CMD starts the gateway against the simulator and the Dockerfile HEALTHCHECK passes', async () => {
    const gw = start(execForm(runtime.find((l) => l.startsWith('CMD ')) ?? '', 'CMD'), gwEnv, /Server listening/)
    children.push(gw.child)
    await gw.ready
    const check = execForm(runtime.find((l) => l.startsWith('HEALTHCHECK ')) ?? '', 'CMD')
    assert.equal(await healthcheck(check, gwEnv), 0)
    assert.equal(await healthcheck(compose.services.gateway.healthcheck.test.slice(1), gwEnv), 0)
    // A real sync goes through the container wiring.
    const res = await fetch(`http://127.0.0.1:${gwPort}/opportunities`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ operation: 'insert', opportunities: [{ name: 'from compose' }] })
    })
    assert.equal(res.status, 200, await res.clone().text())
    gw.child.kill('SIGTERM')
    const code = await new Promise((resolve) => gw.child.once('exit', resolve))
    assert.equal(code, 0, 'SIGTERM closes gracefully')
  })

  it('the healthcheck fails when nothing answers', async () => {
    const check = execForm(runtime.find((l) => l.startsWith('HEALTHCHECK ')) ?? '', 'CMD')
    assert.equal(await healthcheck(check, { PORT: String(await freePort()) }), 1)
  })
})

function readdirRecursive (dir: string): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((p) => join(dir, p))
}
