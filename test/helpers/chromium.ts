import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type BrowserContext, type Page } from 'playwright-core'

/** Debian's chromium, which .ci/run installs when it is missing. */
export const CHROMIUM = '/usr/bin/chromium'

/**
 * Browser tests are skipped only on a developer machine without Debian's chromium; under CI
 * (.ci/run installs it) a missing browser is a failure, not a silent skip.
 */
export const chromiumSkip: string | false = !existsSync(CHROMIUM) && process.env.CI === undefined
  ? `${CHROMIUM} not found (apt-get install chromium); set CI=1 to make this a failure`
  : false

export interface HeadlessChromium {
  browser: BrowserContext
  page: Page
  /** Closes the browser and removes its profile. */
  close (): Promise<void>
}

/**
 * Headless Chromium on a new empty profile under .tmp/ (named by `name`). The machine's network is
 * closed: no background calls home, no QUIC, and no sandbox (CI runs as root).
 */
export async function launchChromium (name: string): Promise<HeadlessChromium> {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is required under CI (.ci/run installs the chromium package)`)
  const root = fileURLToPath(new URL('../../', import.meta.url))
  mkdirSync(join(root, '.tmp'), { recursive: true })
  const profile = mkdtempSync(join(root, '.tmp', `${name}-`))
  let browser: BrowserContext
  try {
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync']
    })
  } catch (err) {
    rmSync(profile, { recursive: true, force: true })
    throw err
  }
  const page = await browser.newPage()
  page.setDefaultTimeout(15_000)
  return {
    browser,
    page,
    close: async () => {
      await browser.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }
}
