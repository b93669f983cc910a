import { DEMO_ENCRYPTION_KEY, DEMO_USER_ID, startSimulator } from './index.js'

const env = process.env
const admin = env.SIMULATOR_ADMIN === '1'
const port = env.SIMULATOR_PORT === undefined || env.SIMULATOR_PORT === '' ? 8081 : Number(env.SIMULATOR_PORT)
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`SIMULATOR_PORT must be a port number, got ${env.SIMULATOR_PORT}`)
  process.exit(1)
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
  logger: { info: log('info'), warn: log('warn') }
})
log('info')({ endpoint: sim.endpoint, wsdl: sim.wsdlUrl, admin }, 'Marketo SOAP simulator ready')

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
