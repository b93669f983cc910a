import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { Page } from 'playwright-core'
import { startGateway, syncCalls, TEST_API_KEY, type TestGateway } from '../helpers/gateway.js'
import { chromiumSkip as skip, launchChromium, type HeadlessChromium } from '../helpers/chromium.js'

// A web app's page: calls the gateway with fetch, as a browser app would (API key, JSON body,
// Idempotency-Key and x-request-id, which together need a preflight), and reads a response header.
const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>app</title><script>
window.callGateway = async (gateway, key, requestId) => {
  try {
    const res = await fetch(gateway + '/opportunities', {
      method: 'POST',
      headers: { authorization: 'Bearer ' + key, 'content-type': 'application/json', 'idempotency-key': 'browser-' + requestId, 'x-request-id': requestId },
      body: JSON.stringify({ operation: 'insert', opportunities: [{ name: 'from a browser ' + requestId }] })
    })
    const body = await res.json()
    return { status: res.status, requestId: res.headers.get('x-request-id'), created: body.summary && body.summary.created }
  } catch (err) {
    return { error: String(err) }
  }
}
</script></head><body>app</body></html>`

async function pageServer (): Promise<{ server: Server, origin: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(PAGE)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no address')
  return { server, origin: `http://127.0.0.1:${address.port}` }
}

interface CallResult { status?: number, requestId?: string | null, created?: number, error?: string }

describe('CORS in headless Chromium: a web app on another origin calls the gateway', { skip }, () => {
  let gw: TestGateway
  let allowed: { server: Server, origin: string }
  let denied: { server: Server, origin: string }
  let browser: HeadlessChromium | undefined
  let page: Page

  before(async () => {
    allowed = await pageServer()
    denied = await pageServer()
    // API keys on (the helper's default key): the preflight must get through without one.
    gw = await startGateway({ env: { CORS_ORIGINS: allowed.origin } })
    browser = await launchChromium('chromium-cors')
    page = browser.page
  })
  after(async () => {
    await browser?.close()
    await gw?.close()
    for (const s of [allowed, denied]) if (s !== undefined) await new Promise((resolve) => s.server.close(resolve))
  })

  it('a page on a listed origin gets the answer and reads its x-request-id', async () => {
    await page.goto(`${allowed.origin}/`)
    const before = syncCalls(gw.sim)
    const result: CallResult = await page.evaluate(async ([url, key]) => (globalThis as any).callGateway(url, key, 'browser-ok-1'), [gw.url, TEST_API_KEY])
    assert.deepEqual(result, { status: 200, requestId: 'browser-ok-1', created: 1 })
    assert.equal(syncCalls(gw.sim), before + 1)
  })

  it('a page on an origin that is not listed is blocked by the browser: fetch rejects, nothing reaches Marketo', async () => {
    await page.goto(`${denied.origin}/`)
    const before = gw.sim.ledger.length
    const result: CallResult = await page.evaluate(async ([url, key]) => (globalThis as any).callGateway(url, key, 'browser-denied-1'), [gw.url, TEST_API_KEY])
    assert.equal(result.status, undefined, JSON.stringify(result))
    assert.match(result.error ?? '', /TypeError: Failed to fetch/)
    assert.equal(gw.sim.ledger.length, before, 'the preflight failed, so the POST was never sent')
  })
})
