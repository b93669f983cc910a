import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A real redis-server for the Redis tests, one per test file, on a free port (never 6379, so a
 * developer's own Redis is never touched), without persistence and with noeviction (production's
 * policy: a full Redis must refuse writes, never silently drop a lease or a claim).
 *
 * Tests do not skip when redis-server is missing: they fail (.ci/run installs it), so a green run
 * always means the Redis code was exercised.
 */
export interface TestRedis {
  url: string
  port: number
  /** The PID of the current redis-server (changes on restart). */
  readonly pid: number
  /** SIGTERM and wait for exit; removes the temp dir. */
  stop (): Promise<void>
  /** SIGSTOP: the server holds connections but answers nothing (a hung Redis). */
  pause (): void
  /** SIGCONT after pause(). */
  resume (): void
  /** SIGKILL and wait for exit (a crashed Redis); restart() brings it back. */
  kill (): Promise<void>
  /** Stops (if running) and starts a fresh, empty server on the same port. */
  restart (): Promise<void>
}

const START_TIMEOUT_MS = 5_000

async function freePort (): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer()
      srv.once('error', reject)
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address()
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0
        srv.close(() => resolve(p))
      })
    })
    if (port !== 6379 && port !== 0) return port
  }
  throw new Error('no free port found')
}

function ping (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port })
    let data = ''
    const done = (ok: boolean): void => {
      sock.destroy()
      resolve(ok)
    }
    sock.setTimeout(300, () => done(false))
    sock.once('error', () => done(false))
    sock.on('data', (chunk) => {
      data += chunk.toString()
      if (data.includes('\r\n')) done(data.startsWith('+PONG'))
    })
    sock.once('connect', () => sock.write('PING\r\n'))
  })
}

function waitExit (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

export async function startRedis (opts: { binary?: string } = {}): Promise<TestRedis> {
  const binary = opts.binary ?? process.env.REDIS_SERVER ?? 'redis-server'
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'gw-redis-'))
  let child: ChildProcess | undefined

  const launch = async (): Promise<void> => {
    const proc = spawn(binary, [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--maxmemory-policy', 'noeviction', '--dir', dir, '--protected-mode', 'yes', '--loglevel', 'warning'
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    proc.stderr?.on('data', (c) => { stderr += c.toString() })
    const spawnError = new Promise<Error>((resolve) => proc.once('error', resolve))
    child = proc
    const until = Date.now() + START_TIMEOUT_MS
    while (Date.now() < until) {
      const failed = await Promise.race([spawnError, new Promise<null>((resolve) => setTimeout(() => resolve(null), 50))])
      if (failed !== null) throw new Error(`cannot start ${binary} (install Debian redis-server): ${failed.message}`)
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}: ${stderr}`)
      if (await ping(port)) return
    }
    proc.kill('SIGKILL')
    throw new Error(`redis-server did not answer PING on port ${port} within ${START_TIMEOUT_MS} ms: ${stderr}`)
  }

  const signal = (sig: NodeJS.Signals): void => {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, sig)
  }
  const end = async (sig: NodeJS.Signals): Promise<void> => {
    if (child === undefined) return
    const c = child
    // A stopped process queues SIGTERM until it is continued.
    signal('SIGCONT')
    signal(sig)
    await waitExit(c)
  }

  // A test file that crashes must not leave its server running.
  const onExit = (): void => signal('SIGKILL')
  process.once('exit', onExit)

  try {
    await launch()
  } catch (err) {
    process.off('exit', onExit)
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid () { return child?.pid ?? -1 },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    kill: () => end('SIGKILL'),
    restart: async () => {
      await end('SIGTERM')
      await launch()
    },
    stop: async () => {
      process.off('exit', onExit)
      await end('SIGTERM')
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
