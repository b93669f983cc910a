import module from 'node:module'

// Node 22 (the container runtime) caches compiled code between starts; Node 20 has no such API.
// It must be on before the application's modules load, hence the dynamic imports below.
;(module as { enableCompileCache?: () => unknown }).enableCompileCache?.()
const { buildApp } = await import('./app.js')
const { ConfigError, loadConfig } = await import('./config.js')

// The only place with listen, signals and graceful close.
async function main (): Promise<void> {
  let config
  try {
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`)
      process.exit(78)
    }
    throw err
  }
  const app = await buildApp(config)
  await app.listen({ host: config.host, port: config.port })

  let closing = false
  const shutdown = (signal: string): void => {
    if (closing) return
    closing = true
    app.log.info({ signal }, 'shutting down: finishing in-flight requests')
    const force = setTimeout(() => {
      app.log.error('drain timeout reached, exiting')
      process.exit(1)
    }, config.requestTimeoutMs + 5_000)
    force.unref()
    app.close().then(() => process.exit(0), (err: unknown) => {
      app.log.error({ err }, 'error while closing')
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
}

main().catch((err: unknown) => {
  process.stderr.write(`gateway failed to start: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
})
