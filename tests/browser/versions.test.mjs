// Versions in the browser: the secretariat names a version, edits on,
// compares the two texts, reads the old one and restores it; every open
// editor converges to it. Run by tests/run (after `cargo build`), or `npm test` here.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  accessibilityProblems,
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  blocks,
  findBrowser,
  launchBrowser,
  newContext,
  screenshot,
  seedMeeting,
  signIn,
  startServer,
} from './support.mjs'

const executable = findBrowser()
if (!executable) {
  console.error('\n*** BROWSER TESTS NOT RUN: no Chromium or Chrome is installed (apt-get install chromium, or set PLENARY_CHROME) ***\n')
}

const PATIENCE = { timeout: 20_000 }
// docs/screenshots/history-compare.png is refreshed only on request (it is committed).
const committed = process.env.PLENARY_UPDATE_SCREENSHOTS === '1'
// The live editor only (a version or a comparison is drawn beside it with the same classes).
const LIVE = '.res-main > .paper .resolution-text'
const block = (page, index) => page.locator(`${LIVE} > .block`).nth(index)

/** Clicks into block `index` and waits until the caret is really there (see editor.test.mjs). */
async function clickBlock(page, index) {
  for (let attempt = 0; attempt < 5; attempt++) {
    await block(page, index).click()
    await page.waitForTimeout(60)
    const inside = await block(page, index).evaluate((element) => {
      const anchor = getSelection()?.anchorNode
      return Boolean(anchor && element.contains(anchor))
    })
    if (inside) return
  }
  assert.fail(`could not place the caret in block ${index}`)
}

/** Puts the caret at the end of block `index` (End), checking that it got there. */
async function caretToEnd(page, index) {
  for (let attempt = 0; attempt < 5; attempt++) {
    await clickBlock(page, index)
    await page.keyboard.press('End')
    await page.waitForTimeout(60)
    const atEnd = await block(page, index).evaluate((element) => {
      const selection = getSelection()
      if (!selection?.focusNode || !element.contains(selection.focusNode)) return false
      const range = document.createRange()
      range.setStart(selection.focusNode, selection.focusOffset)
      range.setEnd(element, element.childNodes.length)
      const part = range.cloneContents()
      for (const cursor of part.querySelectorAll('.remote-cursor')) cursor.remove()
      return part.textContent.replace(/\u2060/g, '') === ''
    })
    if (atEnd) return
  }
  assert.fail(`could not put the caret at the end of block ${index}`)
}

async function typeAtEnd(page, index, text) {
  await caretToEnd(page, index)
  await page.keyboard.type(text, { delay: 5 })
}

async function waitForBlocks(page, expected, what) {
  const deadline = Date.now() + PATIENCE.timeout
  let last = []
  while (Date.now() < deadline) {
    last = await blocks(page, LIVE)
    if (JSON.stringify(last) === JSON.stringify(expected)) return
    await page.waitForTimeout(100)
  }
  assert.fail(`${what}: expected ${JSON.stringify(expected)}, the text was ${JSON.stringify(last)}`)
}

async function openResolution(page, url, id) {
  await page.goto(`${url}/resolutions/${id}`)
  await page.locator('.connection[data-state="synced"]').waitFor(PATIENCE)
  await page.locator(LIVE).waitFor(PATIENCE)
}

describe('versions: name, compare, view and restore', { skip: executable ? false : 'no Chromium or Chrome installed' }, () => {
  let server
  let seed
  let browser
  let secretariat
  let claudia
  const contexts = []

  before(async () => {
    server = await startServer()
    seed = await seedMeeting(server.url)
    browser = await launchBrowser(executable)
  })

  after(async () => {
    for (const context of contexts) await context.close().catch(() => {})
    await browser?.close()
    await server?.stop()
  })

  async function personPage(email, password, locale = 'en-GB', { bypassCSP = false } = {}) {
    // bypassCSP: only to inject axe-core.
    const context = await newContext(browser, { locale, bypassCSP })
    contexts.push(context)
    const page = await context.newPage()
    page.on('pageerror', (error) => console.error(`[${email}] page error:`, error.stack))
    await signIn(page, server.url, email, password)
    return page
  }

  const OLD = ['Recalling the Palermo Protocol of 2000,', 'Urges member parliaments to act;']
  const NEW = [
    'Recalling the Palermo Convention of 2000,',
    'Urges member parliaments to act without delay;',
    'Calls upon governments to protect victims;',
  ]

  test('the secretariat names a version, edits on, and compares the two texts', async () => {
    secretariat = await personPage(ADMIN_EMAIL, ADMIN_PASSWORD, 'en-GB', { bypassCSP: true })
    claudia = await personPage(seed.people.claudia.email)
    await openResolution(secretariat, server.url, seed.resolution)
    await openResolution(claudia, server.url, seed.resolution)

    await typeAtEnd(secretariat, 0, OLD[0])
    await typeAtEnd(secretariat, 1, OLD[1])
    await waitForBlocks(claudia, OLD, 'Claudia sees the first draft')

    // The History panel: a button in the header, a labelled region with a labelled list.
    const historyButton = secretariat.getByRole('button', { name: 'History', exact: true })
    assert.equal(await historyButton.getAttribute('aria-expanded'), 'false')
    await historyButton.click()
    assert.equal(await historyButton.getAttribute('aria-expanded'), 'true')
    const panel = secretariat.getByRole('complementary', { name: 'History of the text' })
    await panel.waitFor(PATIENCE)
    await panel.getByRole('list', { name: /Versions \(\d+\)/ }).or(panel.getByText('No version has been recorded yet.')).first().waitFor(PATIENCE)

    // Name this version.
    await panel.getByLabel('Name this version').fill('Draft 1 as circulated')
    await panel.getByRole('button', { name: 'Save' }).click()
    const named = panel.locator('.version-item.kind-named', { hasText: 'Draft 1 as circulated' })
    await named.waitFor(PATIENCE)
    assert.match(await named.innerText(), /Recorded by Secretariat|Recorded by/)
    const number = Number(await named.getAttribute('data-version'))
    assert.ok(number >= 1, `the version has a number: ${number}`)
    // Newest first.
    assert.equal(await panel.locator('.version-item').first().getAttribute('data-version'), String(number))

    // Type more: a word replaced, words added, a paragraph added.
    await caretToEnd(secretariat, 0)
    for (let i = 0; i < ' Protocol of 2000,'.length; i++) await secretariat.keyboard.press('Backspace')
    await secretariat.keyboard.type(' Convention of 2000,', { delay: 5 })
    await caretToEnd(secretariat, 1)
    await secretariat.keyboard.press('Backspace')
    await secretariat.keyboard.type(' without delay;', { delay: 5 })
    await secretariat.keyboard.press('Enter')
    await secretariat.keyboard.type(NEW[2], { delay: 5 })
    await waitForBlocks(claudia, NEW, 'Claudia sees the second draft')

    // Compare the named version with the current text (the default pair).
    await named.getByRole('button', { name: /Compare with the current text: version \d+, Draft 1 as circulated/ }).click()
    const compared = secretariat.locator('.version-area .compare-text')
    await compared.waitFor(PATIENCE)
    const title = await secretariat.locator('.version-area-title').innerText()
    assert.match(title, new RegExp(`Version ${number} — Draft 1 as circulated — .+ → Current text \\(live\\)`))
    const inserted = (await compared.locator('ins').allInnerTexts()).map((text) => text.trim())
    const deleted = (await compared.locator('del').allInnerTexts()).map((text) => text.trim())
    assert.ok(inserted.includes('Convention'), `inserted: ${JSON.stringify(inserted)}`)
    assert.ok(inserted.includes('without delay'), `inserted: ${JSON.stringify(inserted)}`)
    assert.ok(inserted.includes(NEW[2]), `inserted: ${JSON.stringify(inserted)}`)
    assert.ok(deleted.includes('Protocol'), `deleted: ${JSON.stringify(deleted)}`)
    // The added paragraph is marked and numbered as in the current text.
    const added = compared.locator('.block[data-status="added"]')
    assert.equal(await added.getAttribute('data-num'), '2.')
    assert.match(await added.textContent(), /new paragraph/)
    // Screen readers hear the changes in words, not only as styles.
    assert.match(await compared.locator('.block').first().textContent(), /\[deleted: Protocol end\]\[inserted: Convention end\]/)
    assert.match(await secretariat.locator('.compare-summary').innerText(), /Paragraphs added: 1 · Paragraphs changed: 2/)
    // The live editor is out of sight meanwhile, not gone.
    assert.equal(await secretariat.locator('.res-main > .paper').isHidden(), true)
    await screenshot(secretariat, 'history-compare', { committed, fullPage: true })
    assert.deepEqual(await accessibilityProblems(secretariat), [])

    // Any two: the picker compares the named version with itself (no difference).
    await secretariat.getByLabel('Later text').selectOption({ label: `Version ${number} — Draft 1 as circulated` })
    await secretariat.getByRole('button', { name: 'Compare', exact: true }).click()
    await secretariat.locator('.compare-summary', { hasText: 'The two texts are the same.' }).waitFor(PATIENCE)
    assert.equal(await compared.locator('ins, del').count(), 0)
  })

  test('viewing a version shows its text read-only, labelled, with a way back', async () => {
    const named = secretariat.locator('.version-item.kind-named', { hasText: 'Draft 1 as circulated' })
    await named.getByRole('button', { name: /View version \d+, Draft 1 as circulated/ }).click()
    const text = secretariat.locator('.version-area .version-text')
    await text.waitFor(PATIENCE)
    assert.match(await secretariat.locator('.version-area-title').innerText(), /^Version \d+ — Draft 1 as circulated — /)
    assert.deepEqual(await blocks(secretariat, '.version-area .version-text'), OLD)
    assert.deepEqual(await secretariat.locator('.version-area .version-text > .block').evaluateAll((els) => els.map((el) => el.getAttribute('data-num'))), [null, '1.'])
    assert.equal(await text.getAttribute('contenteditable'), null)
    assert.equal(await named.getAttribute('aria-current'), 'true')
    // The export links of this version.
    const exportLinks = secretariat.locator('.version-area .export-links a')
    assert.match(await exportLinks.first().getAttribute('href'), /\/api\/resolutions\/[^/]+\/export\?format=pdf&version=\d+/)
    // Who wrote this: each paragraph's authors, under it, on request.
    const authors = secretariat.getByRole('button', { name: 'Who wrote this?' })
    assert.equal(await authors.getAttribute('aria-pressed'), 'false')
    await authors.click()
    await secretariat.locator('.version-area .authors-line').first().waitFor(PATIENCE)
    assert.deepEqual(await secretariat.locator('.version-area .authors-line').allTextContents(), [
      'Written by: Secretariat: 100%',
      'Written by: Secretariat: 100%',
    ])
    assert.deepEqual(await blocks(secretariat, '.version-area .version-text'), OLD)
    await secretariat.locator('.version-area .export-menu > summary').click()
    await screenshot(secretariat, 'history-version', { fullPage: true })
    await secretariat.keyboard.press('Escape')

    // Back to the live text: the editor is there again, unchanged.
    await secretariat.getByRole('button', { name: 'Back to the live text' }).click()
    await secretariat.locator(LIVE).waitFor(PATIENCE)
    assert.equal(await secretariat.locator('.version-area').isHidden(), true)
    assert.deepEqual(await blocks(secretariat, LIVE), NEW)
  })

  test('a sponsoring delegate may name versions but not restore them', async () => {
    await claudia.getByRole('button', { name: 'History', exact: true }).click()
    const panel = claudia.getByRole('complementary', { name: 'History of the text' })
    await panel.locator('.version-item.kind-named').first().waitFor(PATIENCE)
    assert.equal(await panel.getByLabel('Name this version').count(), 1)
    await panel.locator('.version-item.kind-named').first().getByRole('button', { name: /View version/ }).click()
    await claudia.locator('.version-area .version-text').waitFor(PATIENCE)
    assert.equal(await claudia.getByRole('button', { name: 'Restore this version' }).count(), 0)
    await claudia.getByRole('button', { name: 'Back to the live text' }).click()
    // Once Mexico no longer sponsors the draft, the page follows the server and stops offering it.
    await seed.admin.patch(`/api/resolutions/${seed.resolution}`, { sponsors: [seed.delegations.brazil] })
    // (It re-reads its permissions when it comes back into view, or every 20 s.)
    await claudia.evaluate(() => document.dispatchEvent(new Event('visibilitychange')))
    await panel.getByLabel('Name this version').waitFor({ state: 'detached', timeout: 30_000 })
    await seed.admin.patch(`/api/resolutions/${seed.resolution}`, { sponsors: [seed.delegations.mexico, seed.delegations.brazil] })
    await claudia.evaluate(() => document.dispatchEvent(new Event('visibilitychange')))
    await panel.getByLabel('Name this version').waitFor({ timeout: 30_000 })
    // Esc closes the panel and gives the focus back to its button.
    await panel.getByRole('heading', { name: 'History of the text' }).focus()
    await claudia.keyboard.press('Escape')
    await panel.waitFor({ state: 'hidden', ...PATIENCE })
    assert.equal(await claudia.evaluate(() => document.activeElement?.classList.contains('history-button')), true)
  })

  test('restoring the named version brings every open editor back to its text', async () => {
    const named = secretariat.locator('.version-item.kind-named', { hasText: 'Draft 1 as circulated' })
    const number = await named.getAttribute('data-version')
    await named.getByRole('button', { name: /View version \d+, Draft 1 as circulated/ }).click()
    await secretariat.locator('.version-area .version-text').waitFor(PATIENCE)
    await secretariat.getByRole('button', { name: 'Restore this version' }).click()
    // A confirm step first: Cancel leaves everything as it was.
    const dialog = secretariat.getByRole('dialog', { name: `Restore version ${number}?` })
    await dialog.waitFor(PATIENCE)
    await dialog.getByRole('button', { name: 'Cancel' }).click()
    await dialog.waitFor({ state: 'hidden', ...PATIENCE })
    assert.deepEqual(await blocks(claudia, LIVE), NEW)

    await secretariat.getByRole('button', { name: 'Restore this version' }).click()
    await dialog.getByRole('button', { name: `Restore version ${number}` }).click()
    await dialog.waitFor({ state: 'hidden', ...PATIENCE })
    // The page is back on the live text, which the server has just restored.
    await secretariat.locator(LIVE).waitFor(PATIENCE)
    await waitForBlocks(secretariat, OLD, 'the secretariat sees the restored text')
    await waitForBlocks(claudia, OLD, 'Claudia sees the restored text')
    // The restore is itself a version, at the top of the list.
    await secretariat.locator('.version-item.kind-restore', { hasText: `Restored from version ${number} (Draft 1 as circulated)` }).first().waitFor(PATIENCE)
    assert.match(await secretariat.locator('.version-item').first().getAttribute('class'), /kind-restore/)

    // And a page opened now shows the restored text too.
    const late = await personPage(seed.people.ana.email, undefined, 'pt-BR')
    await openResolution(late, server.url, seed.resolution)
    await waitForBlocks(late, OLD, 'a page opened after the restore')
    // In Portuguese, the History panel says the automatic names in Portuguese.
    await late.getByRole('button', { name: 'Histórico', exact: true }).click()
    await late.locator('.version-item.kind-restore', { hasText: `Restaurada a partir da versão ${number} (Draft 1 as circulated)` }).first().waitFor(PATIENCE)
  })
})
