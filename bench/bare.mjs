// Baseline: a bare Fastify app with one JSON POST route answering a fixed body (no validation, no upstream).
import Fastify from 'fastify'

const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 })
const answer = { requestId: 'bare', operation: 'upsert', summary: { total: 1, created: 0, updated: 0, unchanged: 1, skipped: 0, failed: 0, deleted: 0, unknown: 0, notApplied: 0 }, results: [{ index: 0, status: 'unchanged', id: 1 }] }
app.post('/opportunities', async () => answer)
app.get('/readyz', async () => ({ status: 'ready' }))
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
process.once('SIGTERM', () => { app.close().then(() => process.exit(0)) })
