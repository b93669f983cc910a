import { DEMO_ENCRYPTION_KEY, DEMO_USER_ID, MARKETO_LIMITS, startSimulator, type LimitsConfig } from './index.js'

const env = process.env
const admin = env.SIMULATOR_ADMIN === '1'
const port = env.SIMULATOR_PORT === undefined || env.SIMULATOR_PORT === '' ? 8081 : Number(env.SIMULATOR_PORT)
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`SIMULATOR_PORT must be a port number, got ${env.SIMULATOR_PORT}`)
  process.exit(1)
}
// Optional limit overrides (docs/simulator.md): SIMULATOR_LIMITS=off, or single limits (0 = off for the last two).
const intEnv = (name: string): number | undefined => {
  const v = env[name]
  if (v === undefined || v === '') return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) {
    console.error(`${name} must be a non-negative integer, got ${v}`)
    process.exit(1)
  }
  return n
}
let limits: LimitsConfig | undefined
if (env.SIMULATOR_LIMITS === 'off') {
  limits = { maxObjectsPerCall: null, rateLimit: null, maxConcurrent: null, dailyQuota: null }
} else {
  const calls = intEnv('SIMULATOR_RATE_CALLS')
  const windowMs = intEnv('SIMULATOR_RATE_WINDOW_MS')
  const maxConcurrent = intEnv('SIMULATOR_MAX_CONCURRENT')
  const dailyQuota = intEnv('SIMULATOR_DAILY_QUOTA')
  limits = {}
  if (calls !== undefined || windowMs !== undefined) {
    limits.rateLimit = calls === 0 ? null : { calls: calls ?? MARKETO_LIMITS.rateLimit?.calls ?? 100, windowMs: windowMs ?? MARKETO_LIMITS.rateLimit?.windowMs ?? 20_000 }
  }
  if (maxConcurrent !== undefined) limits.maxConcurrent = maxConcurrent === 0 ? null : maxConcurrent
  if (dailyQuota !== undefined) limits.dailyQuota = dailyQuota === 0 ? null : dailyQuota
}
const log = (level: string) => (...a: unknown[]): void => {
  const [first, second] = a
  const fields = typeof first === 'object' && first !== null ? first : {}
  const msg = typeof first === 'string' ? first : typeof second === 'string' ? second : ''
  console.log(JSON.stringify({ level, time: new Date().toISOString(), msg, ...fields }))
}

const sim = await startSimulator({
  host: env.SIMULATOR_HOST || '127.0.0.1',
  port,
  userId: env.SIMULATOR_USER_ID || DEMO_USER_ID,
  encryptionKey: env.SIMULATOR_ENCRYPTION_KEY || DEMO_ENCRYPTION_KEY,
  inspection: admin,
  adminPath: admin,
  limits,
  logger: { info: log('info'), warn: log('warn') }
})
log('info')({ endpoint: sim.endpoint, wsdl: sim.wsdlUrl, admin, limits }, 'Marketo SOAP simulator ready')

let closing = false
const shutdown = (signal: string): void => {
  if (closing) return
  closing = true
  log('info')({ signal }, 'closing')
  const force = setTimeout(() => process.exit(1), 10_000)
  force.unref()
  sim.close().then(() => process.exit(0), () => process.exit(1))
}
process.once('SIGTERM', () => shutdown('SIGTERM'))
process.once('SIGINT', () => shutdown('SIGINT'))
