// A tour of every screen in every language, on the demo meeting, for people
// to look at: screenshots in tests/browser/out/tour (ignored by git), and in
// docs/screenshots when PLENARY_UPDATE_SCREENSHOTS=1 (committed).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { accessibilityProblems, findBrowser, launchBrowser, newContext, screenshot, signIn, startServer } from './support.mjs'

const executable = findBrowser()
const committed = process.env.PLENARY_UPDATE_SCREENSHOTS === '1'
const LANGUAGES = [
  ['en', 'en-GB'],
  ['es', 'es-MX'],
  ['fr', 'fr-CA'],
  ['pt', 'pt-BR'],
]

/** The demo accounts the server printed: role (delegation) → {email, password}. */
function demoAccounts(lines) {
  const accounts = {}
  for (const line of lines) {
    const match = /^\s+(\S.*?)\s{2,}(\S+@\S+)\s+(\S+)\s*$/.exec(line)
    if (match) accounts[match[1].trim()] = { email: match[2], password: match[3] }
  }
  return accounts
}

describe('a tour of the screens in four languages', { skip: executable ? false : 'no Chromium or Chrome installed' }, () => {
  let demo
  let fresh
  let browser
  let accounts
  let meetingPath

  before(async () => {
    demo = await startServer({ admin: false, args: ['--demo'] })
    const meetingLine = await demo.waitFor((line) => line.startsWith('demo meeting set up: '), 'the demo meeting')
    meetingPath = new URL(meetingLine.slice('demo meeting set up: '.length)).pathname
    await demo.waitFor((line) => line.includes('observer@plenary.example'), 'the demo accounts')
    accounts = demoAccounts(demo.lines)
    fresh = await startServer({ admin: false })
    await fresh.waitFor((line) => line.includes('/setup#'), 'the setup link')
    browser = await launchBrowser(executable)
  })

  after(async () => {
    await browser?.close()
    await demo?.stop()
    await fresh?.stop()
  })

  for (const [language, locale] of LANGUAGES) {
    test(`every screen in ${language}`, async () => {
      // Each screen is photographed and checked with axe-core (WCAG 2.1 AA).
      const problems = []
      const shot = async (page, name, options = {}) => {
        await screenshot(page, `tour/${language}-${name}`, { committed: false, ...options })
        if (committed) await screenshot(page, `${language}-${name}`, { committed: true, ...options })
        for (const problem of await accessibilityProblems(page)) problems.push(`${name}: ${problem}`)
      }
      const context = await newContext(browser, { locale, width: 1280, height: 800, bypassCSP: true })
      const page = await context.newPage()
      page.on('pageerror', (error) => console.error(`[${language}] page error:`, error.stack))

      const setupLine = fresh.lines.find((line) => line.includes('/setup#'))
      await page.goto(setupLine.slice(setupLine.indexOf('http')))
      await page.locator('#setup-name').waitFor()
      await shot(page, '1-setup')

      await page.goto(`${demo.url}/login`)
      await page.locator('#login-email').waitFor()
      await shot(page, '2-sign-in')

      const mexico = accounts['delegate (Mexico)']
      const brazil = accounts['delegate (Brazil)']
      const observer = accounts.observer
      assert.ok(mexico && brazil && observer, `demo accounts: ${JSON.stringify(Object.keys(accounts))}`)
      await signIn(page, demo.url, mexico.email, mexico.password)
      await page.locator('.meeting-card').first().waitFor()
      await shot(page, '3-meetings')

      await page.goto(`${demo.url}${meetingPath}`)
      await page.locator('.resolution-card').first().waitFor()
      await shot(page, '4-meeting')

      // The editor, with a colleague from Brazil in it.
      await page.locator('.resolution-card a').first().click()
      await page.locator('.connection[data-state="synced"]').waitFor()
      const resolutionPath = new URL(page.url()).pathname
      const colleague = await newContext(browser, { locale: 'pt-BR' })
      const other = await colleague.newPage()
      await signIn(other, demo.url, brazil.email, brazil.password)
      await other.goto(`${demo.url}${resolutionPath}`)
      await other.locator('.connection[data-state="synced"]').waitFor()
      await other.locator('.res-main .resolution-text > .block').nth(1).click({ position: { x: 220, y: 12 } })
      await page.locator('.res-main .resolution-text > .block').nth(0).click({ position: { x: 300, y: 12 } })
      await page.locator('.remote-cursor-label').first().waitFor()
      await page.locator('.presence li').nth(1).waitFor()
      await page.mouse.move(0, 0)
      await page.evaluate(() => window.scrollTo(0, 0))
      await shot(page, '5-editor')

      await page.keyboard.press('Control+/')
      await page.getByRole('dialog').waitFor()
      await shot(page, '6-shortcuts')
      await page.keyboard.press('Escape')
      await colleague.close()

      // The observer's read-only view.
      const press = await newContext(browser, { locale, width: 1280, height: 800, bypassCSP: true })
      const observerPage = await press.newPage()
      await signIn(observerPage, demo.url, observer.email, observer.password)
      await observerPage.goto(`${demo.url}${resolutionPath}`)
      await observerPage.locator('.connection[data-state="synced"]').waitFor()
      await observerPage.locator('.res-main .resolution-text > .block').first().waitFor()
      await shot(observerPage, '7-read-only')

      await observerPage.goto(`${demo.url}${resolutionPath}/projector`)
      await observerPage.locator('.projector-body .block').first().waitFor()
      await observerPage.waitForTimeout(300)
      await shot(observerPage, '8-projector')
      await press.close()
      await context.close()
      assert.deepEqual(problems, [], 'no serious accessibility problem on any screen')
    })
  }
})
