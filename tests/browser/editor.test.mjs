// The browser client in a real browser: delegates co-draft a resolution.
// Run by tests/run (after `cargo build`), or `npm test` here.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  apiClient,
  blocks,
  findBrowser,
  launchBrowser,
  newContext,
  numbers,
  PASSWORD,
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
const block = (page, index) => page.locator('.res-main .resolution-text > .block').nth(index)

/**
 * Clicks into block `index`, as a person would. ProseMirror puts its own
 * selection back into the page 20 ms after the editor regains the focus,
 * so a script that types at once may type where the caret was before:
 * wait until the caret is really in the block (people are slower).
 */
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

/** Whether the caret is at the start or the end of block `index` (others' cursor flags aside). */
async function caretAt(page, index, where) {
  return block(page, index).evaluate((element, side) => {
    const selection = getSelection()
    if (!selection?.focusNode || !element.contains(selection.focusNode)) return false
    const range = document.createRange()
    if (side === 'end') {
      range.setStart(selection.focusNode, selection.focusOffset)
      range.setEnd(element, element.childNodes.length)
    } else {
      range.setStart(element, 0)
      range.setEnd(selection.focusNode, selection.focusOffset)
    }
    const part = range.cloneContents()
    for (const cursor of part.querySelectorAll('.remote-cursor')) cursor.remove()
    return part.textContent.replace(/\u2060/g, '') === ''
  }, where)
}

/** Puts the caret at the start or end of block `index` with Home or End, as a person would. */
async function caretTo(page, index, where) {
  for (let attempt = 0; attempt < 5; attempt++) {
    await clickBlock(page, index)
    await page.keyboard.press(where === 'end' ? 'End' : 'Home')
    await page.waitForTimeout(60)
    if (await caretAt(page, index, where)) return
  }
  assert.fail(`could not put the caret at the ${where} of block ${index}`)
}

/** Clicks at the end of block `index` and types `text`. */
async function typeAtEnd(page, index, text) {
  await caretTo(page, index, 'end')
  await page.keyboard.type(text, { delay: 5 })
}

async function openResolution(page, url, id) {
  await page.goto(`${url}/resolutions/${id}`)
  await page.locator('.connection[data-state="synced"]').waitFor(PATIENCE)
  await page.locator('.res-main .resolution-text').waitFor(PATIENCE)
}

async function waitForBlocks(page, predicate, what, selector) {
  const deadline = Date.now() + PATIENCE.timeout
  let last = []
  while (Date.now() < deadline) {
    last = await blocks(page, selector)
    if (predicate(last)) return last
    await page.waitForTimeout(100)
  }
  assert.fail(`${what}; the text was: ${JSON.stringify(last)}`)
}

describe('the browser client', { skip: executable ? false : 'no Chromium or Chrome installed' }, () => {
  let server
  let seed
  let browser
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

  async function personPage(person, locale = 'en-GB') {
    const context = await newContext(browser, { locale })
    contexts.push(context)
    const page = await context.newPage()
    page.on('pageerror', (error) => console.error(`[${person.email}] page error:`, error.stack))
    await signIn(page, server.url, person.email)
    return page
  }

  let claudia
  let ana

  test('a delegate signs in and finds the meeting and its resolution', async () => {
    claudia = await personPage(seed.people.claudia)
    assert.equal(new URL(claudia.url()).pathname, '/meetings')
    await claudia.getByRole('link', { name: /7th Annual Meeting/ }).click()
    await claudia.getByRole('heading', { level: 1, name: /7th Annual Meeting/ }).waitFor(PATIENCE)
    const card = claudia.locator('.resolution-card')
    assert.match(await card.innerText(), /Sponsored by Mexico and Brazil/)
    assert.match(await card.locator('.phase').innerText(), /drafting/i)
    assert.match(await claudia.locator('.delegation-list').innerText(), /Mexico[\s\S]*your delegation/i)
    await card.getByRole('link').click()
    await claudia.locator('.connection[data-state="synced"]').waitFor(PATIENCE)
    assert.equal(new URL(claudia.url()).pathname, `/resolutions/${seed.resolution}`)
    assert.equal(await claudia.locator('.res-main .resolution-text').getAttribute('contenteditable'), 'true')
    await screenshot(claudia, 'editor-signed-in')
  })

  test('two delegates type in the same resolution and see each other’s words and cursors', async () => {
    ana = await personPage(seed.people.ana, 'pt-BR')
    await openResolution(ana, server.url, seed.resolution)
    // The server's skeleton: one preambular and one operative paragraph.
    assert.deepEqual(await numbers(claudia), [null, '1.'])

    await typeAtEnd(claudia, 0, 'Recalling the Palermo Protocol of 2000,')
    await waitForBlocks(ana, (text) => text[0] === 'Recalling the Palermo Protocol of 2000,', 'Ana sees what Claudia typed')

    await typeAtEnd(ana, 1, 'Urges member parliaments to criminalize trafficking;')
    await waitForBlocks(claudia, (text) => text[1] === 'Urges member parliaments to criminalize trafficking;', 'Claudia sees what Ana typed')

    // Each sees the other's caret, labelled with name and delegation.
    const anaInClaudia = claudia.locator('.remote-cursor-label', { hasText: 'Ana Paula Souza · Brazil' })
    await anaInClaudia.waitFor(PATIENCE)
    await clickBlock(claudia, 0)
    const claudiaInAna = ana.locator('.remote-cursor-label', { hasText: 'Claudia Hernández · Mexico' })
    await claudiaInAna.waitFor(PATIENCE)
    // …and who is present.
    await claudia.locator('.presence', { hasText: 'Ana Paula Souza' }).waitFor(PATIENCE)
    assert.match(await ana.locator('.presence').innerText(), /Claudia Hernández[\s\S]*Mexico/)
    // Ana's interface is in Portuguese (her browser's language).
    assert.equal(await ana.locator('html').getAttribute('lang'), 'pt')
    assert.match(await ana.locator('.connection').innerText(), /Atualizado/)
    await screenshot(claudia, 'editor-two-delegates-claudia')
    await screenshot(ana, 'editor-two-delegates-ana')
  })

  test('numbering follows an inserted operative paragraph, and sub-paragraphs are lettered', async () => {
    // A new operative paragraph after the first, by Enter at its end.
    await typeAtEnd(claudia, 1, '')
    await claudia.keyboard.press('Enter')
    await claudia.keyboard.type('Calls upon governments to protect victims;', { delay: 5 })
    await waitForBlocks(ana, (text) => text.length === 3 && text[2] === 'Calls upon governments to protect victims;', 'Ana sees the new paragraph')
    assert.deepEqual(await numbers(ana), [null, '1.', '2.'])

    // One inserted before it: the numbers after it move up.
    await caretTo(claudia, 2, 'start')
    await claudia.keyboard.press('Enter')
    await claudia.keyboard.press('ArrowUp')
    await claudia.keyboard.type('Requests the secretariat to report;', { delay: 5 })
    const text = await waitForBlocks(ana, (t) => t.length === 4 && t[2] === 'Requests the secretariat to report;', 'Ana sees the inserted paragraph')
    assert.equal(text[3], 'Calls upon governments to protect victims;')
    assert.deepEqual(await numbers(ana), [null, '1.', '2.', '3.'])

    // Tab indents into a sub-paragraph (a), again into (i); Shift+Tab outdents.
    await typeAtEnd(claudia, 3, '')
    await claudia.keyboard.press('Enter')
    await claudia.keyboard.press('Tab')
    await claudia.keyboard.type('in their own language;', { delay: 5 })
    await claudia.keyboard.press('Enter')
    await claudia.keyboard.press('Tab')
    await claudia.keyboard.type('including sign languages;', { delay: 5 })
    await waitForBlocks(ana, (t) => t.length === 6, 'Ana sees the sub-paragraphs')
    assert.deepEqual(await numbers(ana), [null, '1.', '2.', '3.', '(a)', '(i)'])

    // The toolbar switches a paragraph between preambular and operative.
    await clickBlock(claudia, 2)
    await claudia.locator('.kind-select').selectOption('preamble')
    await waitForBlocks(ana, () => true, '')
    const deadline = Date.now() + PATIENCE.timeout
    while (Date.now() < deadline && JSON.stringify(await numbers(ana)) !== JSON.stringify([null, '1.', null, '2.', '(a)', '(i)'])) {
      await ana.waitForTimeout(100)
    }
    assert.deepEqual(await numbers(ana), [null, '1.', null, '2.', '(a)', '(i)'])
    // …and a keyboard shortcut switches it back.
    await clickBlock(claudia, 2)
    await claudia.keyboard.press('Control+Shift+O')
    await claudia.waitForFunction(() => document.querySelectorAll('.res-main .resolution-text > .block')[2]?.getAttribute('data-num') === '2.')

    // Ids stay unique through the splits (checked on the server's reading too).
    const ids = await claudia.locator('.res-main .resolution-text > .block').evaluateAll((els) => els.map((el) => el.getAttribute('data-id')))
    assert.equal(new Set(ids).size, ids.length, `unique ids: ${ids}`)
    for (const id of ids) assert.match(id, /^p[0-9A-Za-z]{10}$/)
    await screenshot(ana, 'editor-numbering')
  })

  test('the language switches in place, without losing the live editor', async () => {
    await ana.locator('.res-main .resolution-text').evaluate((element) => (element.dataset.marker = 'same'))
    assert.equal(await ana.locator('.toolbar').getAttribute('aria-label'), 'Ferramentas de edição')
    await ana.getByRole('combobox', { name: 'Idioma' }).selectOption('es')
    await ana.locator('.toolbar[aria-label="Herramientas de edición"]').waitFor(PATIENCE)
    assert.equal(await ana.locator('html').getAttribute('lang'), 'es')
    assert.equal(await ana.locator('.res-main .resolution-text').getAttribute('data-marker'), 'same')
    assert.match(await ana.locator('.connection').innerText(), /Al día/)
    assert.match(await ana.locator('.res-sponsors').innerText(), /Patrocinada por Mexico y Brazil/)
    // The choice is remembered.
    await ana.reload()
    await ana.locator('.toolbar[aria-label="Herramientas de edición"]').waitFor(PATIENCE)
  })

  test('keyboard only: Esc leaves the text, Tab moves on', async () => {
    await clickBlock(claudia, 0)
    await claudia.keyboard.press('Escape')
    assert.equal(await claudia.evaluate(() => document.activeElement?.className), 'res-side')
    await claudia.keyboard.press('Tab')
    const focused = await claudia.evaluate(() => document.activeElement?.closest('.res-side') !== null)
    assert.ok(focused, 'the focus moved on to the side panel')
    // Tab inside the text indents instead of leaving it.
    await clickBlock(claudia, 0)
    await claudia.keyboard.press('Tab')
    assert.equal(await claudia.evaluate(() => document.activeElement?.classList.contains('resolution-text')), true)
    await claudia.keyboard.press('Shift+Tab')
    await claudia.waitForFunction(() => document.querySelector('.res-main .resolution-text > .block')?.classList.contains('pp'), null, PATIENCE)
  })

  test('the help panel lists the keyboard shortcuts', async () => {
    await clickBlock(claudia, 0)
    await claudia.keyboard.press('Control+/')
    const dialog = claudia.getByRole('dialog')
    await dialog.waitFor(PATIENCE)
    assert.match(await dialog.innerText(), /Keyboard shortcuts[\s\S]*Ctrl\+Shift\+O[\s\S]*Tab/)
    await screenshot(claudia, 'editor-help')
    await claudia.keyboard.press('Escape')
    await dialog.waitFor({ state: 'hidden', ...PATIENCE })
  })

  test('an observer follows the text but cannot type', async () => {
    const observer = await personPage(seed.people.observer, 'fr-FR')
    await openResolution(observer, server.url, seed.resolution)
    const editor = observer.locator('.res-main .resolution-text')
    assert.equal(await editor.getAttribute('contenteditable'), 'false')
    assert.equal(await editor.getAttribute('aria-readonly'), 'true')
    assert.equal(await observer.locator('.toolbar').isHidden(), true)
    assert.match(await observer.locator('.readonly-banner').innerText(), /observateur/i)
    const before = await blocks(observer)
    await block(observer, 1).click()
    await observer.keyboard.type('OBSERVER WAS HERE')
    await observer.keyboard.press('Enter')
    await observer.waitForTimeout(500)
    assert.deepEqual(await blocks(observer), before, 'nothing changed on the observer page')
    assert.ok(!(await blocks(claudia)).join('\n').includes('OBSERVER'), 'nothing reached the delegates')
    // The observer still follows live.
    await typeAtEnd(claudia, 0, ' and its Protocols')
    await waitForBlocks(observer, (t) => t[0].endsWith('and its Protocols'), 'the observer follows the edits')
    await screenshot(observer, 'editor-observer')
    await observer.context().close()
  })

  test('a reload shows what was typed', async () => {
    const before = await blocks(claudia)
    await claudia.reload()
    await claudia.locator('.connection[data-state="synced"]').waitFor(PATIENCE)
    await waitForBlocks(claudia, (t) => JSON.stringify(t) === JSON.stringify(before), 'the text survives a reload')
    // And the server reads the same text (the document model is shared).
    const fresh = await personPage(seed.people.rosa)
    await openResolution(fresh, server.url, seed.resolution)
    assert.deepEqual(await blocks(fresh), before)
    // Rosa's delegation does not sponsor the draft: read-only for her.
    assert.match(await fresh.locator('.readonly-banner').innerText(), /sponsoring delegations/)
    await fresh.context().close()
  })

  test('the projector view follows the edits in large type', async () => {
    const projector = await personPage(seed.people.observer)
    await projector.goto(`${server.url}/resolutions/${seed.resolution}/projector`)
    await projector.locator('.projector-body .block').first().waitFor(PATIENCE)
    assert.equal(await projector.locator('.projector-body').getAttribute('contenteditable'), 'false')
    const size = await projector.locator('.projector-body').evaluate((el) => parseFloat(getComputedStyle(el).fontSize))
    assert.ok(size >= 28, `large type: ${size}px`)
    assert.equal(await projector.locator('.topbar').isHidden(), true)
    await typeAtEnd(claudia, 3, ' without delay')
    await waitForBlocks(projector, (t) => t[3]?.endsWith('without delay;') || t[3]?.endsWith('without delay'), 'the projector follows', '.projector-body')
    assert.deepEqual(await numbers(projector, '.projector-body'), await numbers(claudia))
    await screenshot(projector, 'projector')
    await projector.context().close()
  })

  test('tabling while a delegate is in the editor makes it read-only at once, without reload', async () => {
    const chair = await personPage(seed.people.chair)
    await openResolution(chair, server.url, seed.resolution)
    assert.match(await chair.locator('.readonly-banner').innerText(), /sponsoring delegations/)
    chair.once('dialog', (dialog) => dialog.accept())
    await chair.getByRole('button', { name: 'Table the text' }).click()
    await chair.locator('.res-header .phase', { hasText: /tabled/i }).waitFor(PATIENCE)

    // Claudia's page turns read-only by itself: banner, no toolbar, no typing.
    const editor = claudia.locator('.res-main .resolution-text')
    await claudia.waitForFunction(() => document.querySelector('.res-main .resolution-text')?.getAttribute('contenteditable') === 'false', null, PATIENCE)
    await claudia.locator('.readonly-banner', { hasText: /tabled/ }).waitFor(PATIENCE)
    await claudia.locator('.res-header .phase', { hasText: /tabled/i }).waitFor(PATIENCE)
    assert.equal(await claudia.locator('.toolbar').isHidden(), true)
    const before = await blocks(claudia)
    await editor.locator('.block').first().click()
    await claudia.keyboard.type('TOO LATE')
    await claudia.waitForTimeout(300)
    assert.deepEqual(await blocks(claudia), before)
    await screenshot(claudia, 'editor-tabled')
    // Back to drafting: the page notices (it re-reads its permissions) and may edit again.
    await apiClient(server.url, seed.people.chair.email, PASSWORD).then((chairApi) =>
      chairApi.post(`/api/resolutions/${seed.resolution}/phase`, { phase: 'drafting' }),
    )
    await claudia.evaluate(() => document.dispatchEvent(new Event('visibilitychange')))
    await claudia.waitForFunction(() => document.querySelector('.res-main .resolution-text')?.getAttribute('contenteditable') === 'true', null, PATIENCE)
    await chair.context().close()
  })

  test('when the server goes away the page says offline, keeps the edits, and catches up when it is back', async () => {
    await claudia.locator('.connection[data-state="synced"]').waitFor(PATIENCE)
    const restarted = server.restart(4000)
    await claudia.locator('.connection[data-state="offline"]').waitFor(PATIENCE)
    assert.match(await claudia.locator('.connection').innerText(), /Offline/)
    // Still editable offline: the edit waits in the page and is sent on reconnect.
    await typeAtEnd(claudia, 1, ' urgently')
    server = await restarted
    await claudia.locator('.connection[data-state="synced"]').waitFor({ timeout: 60_000 })
    await waitForBlocks(ana, (t) => t[1]?.endsWith('urgently'), 'the offline edit reached Ana after the restart')
  })

  test('signing out elsewhere ends the live connection with a message, and it stops retrying', async () => {
    const other = await claudia.context().newPage()
    await other.goto(`${server.url}/meetings`)
    await other.evaluate(() => fetch('/api/auth/logout', { method: 'POST' }))
    await claudia.locator('.connection[data-state="stopped"]').waitFor(PATIENCE)
    assert.match(await claudia.locator('.connection').innerText(), /session has ended/)
    await claudia.waitForTimeout(2500)
    assert.equal(await claudia.locator('.connection').getAttribute('data-state'), 'stopped', 'no reconnect after 4401')
    await other.close()
  })
})

describe('first-run setup', { skip: executable ? false : 'no Chromium or Chrome installed' }, () => {
  test('the printed link creates the secretariat account and signs it in', async () => {
    const server = await startServer({ admin: false })
    const browser = await launchBrowser(executable)
    try {
      const line = await server.waitFor((l) => l.includes('/setup#'), 'the setup link')
      const link = line.slice(line.indexOf('http'))
      const context = await newContext(browser, { locale: 'es-MX' })
      const page = await context.newPage()
      await page.goto(link)
      await page.getByRole('heading', { name: 'Configurar Plenary' }).waitFor(PATIENCE)
      await page.locator('#setup-name').fill('Secretaría de la Red')
      await page.locator('#setup-email').fill('secretaria@plenary.example')
      await page.locator('#setup-password').fill('una contraseña larga')
      await page.locator('#setup-confirm').fill('una contraseña distinta')
      await page.locator('form button[type=submit]').click()
      await page.getByText('Las dos contraseñas no coinciden.').waitFor(PATIENCE)
      await page.locator('#setup-confirm').fill('una contraseña larga')
      await page.locator('form button[type=submit]').click()
      await page.waitForURL((url) => url.pathname === '/meetings', PATIENCE)
      assert.match(await page.locator('.topbar').innerText(), /Secretaría de la Red[\s\S]*Secretaría/)
      // The link works once.
      const again = await context.newPage()
      await again.goto(link)
      await again.getByText('Plenary ya está configurado').waitFor(PATIENCE)
    } finally {
      await browser.close()
      await server.stop()
    }
  })
})
