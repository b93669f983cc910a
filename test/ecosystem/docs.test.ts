import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { startGateway, type TestGateway } from '../helpers/gateway.js'
import { chromiumSkip as skip, launchChromium, type HeadlessChromium } from '../helpers/chromium.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const spec = JSON.parse(readFileSync(join(root, 'openapi/openapi.json'), 'utf8'))
const operations: Array<{ method: string, path: string, operationId: string, tag: string }> = []
for (const [path, item] of Object.entries<Record<string, { operationId: string, tags: string[] }>>(spec.paths)) {
  for (const [method, op] of Object.entries(item)) operations.push({ method, path, operationId: op.operationId, tag: op.tags[0] })
}

describe('/docs in headless Chromium', { skip }, () => {
  let gw: TestGateway
  let browser: HeadlessChromium | undefined
  let page: Page

  before(async () => {
    gw = await startGateway({ env: { AUTH_DISABLED: 'i-understand-the-risk' } })
    browser = await launchChromium('chromium')
    page = browser.page
  })
  after(async () => {
    await browser?.close()
    await gw?.close()
  })

  it('renders the API reference with every operation of openapi/openapi.json', async () => {
    const res = await page.goto(`${gw.url}/docs`)
    assert.equal(res?.status(), 200)
    await page.locator('.swagger-ui .info .title').waitFor()
    assert.match(await page.locator('.swagger-ui .info .title').innerText(), new RegExp(spec.info.title))
    for (const op of operations) {
      const block = page.locator(`#operations-${op.tag}-${op.operationId}`)
      assert.equal(await block.count(), 1, `${op.operationId} is listed`)
      assert.equal(await block.locator('.opblock-summary-method').innerText(), op.method.toUpperCase())
      assert.equal(await block.locator('.opblock-summary-path').getAttribute('data-path'), op.path)
      assert.equal(await block.locator('.opblock-summary-operation-id').innerText(), op.operationId)
    }
    // Hidden routes stay hidden.
    assert.equal(await page.locator('[data-path="/metrics"]').count(), 0)
  })

  async function execute (tag: string, operationId: string): Promise<string> {
    const block = page.locator(`#operations-${tag}-${operationId}`)
    await block.locator('.opblock-summary').first().click()
    await block.locator('button.execute').click()
    const status = block.locator('.live-responses-table .response .response-col_status').first()
    await status.waitFor()
    return (await status.innerText()).trim()
  }

  it('"Try it out" → Execute on GET /healthz shows the live 200', async () => {
    assert.equal(await execute('operations', 'health'), '200')
  })

  it('"Try it out" → Execute on POST /opportunities with the example body shows a 200', async () => {
    const before = gw.sim.ledger.length
    assert.equal(await execute('opportunities', 'syncOpportunities'), '200')
    assert.ok(gw.sim.ledger.length > before, 'the request reached Marketo (the simulator)')
    const body = await page.locator('#operations-opportunities-syncOpportunities .live-responses-table .response-col_description pre').first().innerText()
    assert.match(body, /"created"/)
  })
})
