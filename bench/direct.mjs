// Baseline: the gateway's own MarketoSoapClient (one strong-soap client, keep-alive transport) called
// directly in a closed loop of CONCURRENCY workers, with the MObjects the gateway would send for the
// same JSON body. Latency = hrtime around client.syncMObjects(). Prints one JSON line.
// Env: ENDPOINT, OBJECTS, CONCURRENCY, DURATION_MS, WARMUP_MS, TRANSPORT=gateway|default
import { MarketoSoapClient } from '../dist/src/backends/soap/soap-client.js'
import { BUNDLED_WSDL } from '../dist/src/config.js'
import { planOpportunities } from '../dist/src/http/mapping/opportunities.js'
import { fixedBody, percentile } from './lib.mjs'

const env = process.env
const objects = planOpportunities(fixedBody(Number(env.OBJECTS))).objects
const concurrency = Number(env.CONCURRENCY)
const client = await MarketoSoapClient.create({
  wsdlPath: BUNDLED_WSDL,
  endpoint: env.ENDPOINT,
  credentials: { userId: 'demo17_1_809934544BFABAE58E5D27', encryptionKey: '27272727aa' },
  transport: { maxResponseBytes: 4 * 1024 * 1024, defaultTimeoutMs: 10_000 }
})

async function phase (ms, latencies) {
  const end = performance.now() + ms
  let errors = 0
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now()
      try {
        const statuses = await client.syncMObjects('UPSERT', objects)
        if (statuses.length !== objects.length) throw new Error('status count')
        latencies?.push(performance.now() - t)
      } catch { errors++ }
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  return { errors, seconds: (performance.now() - started) / 1000 }
}

await phase(Number(env.WARMUP_MS))
const latencies = []
const { errors, seconds } = await phase(Number(env.DURATION_MS), latencies)
latencies.sort((a, b) => a - b)
client.close()
process.stdout.write(JSON.stringify({ ok: latencies.length, errors, rps: latencies.length / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) }) + '\n')
process.exit(0)
