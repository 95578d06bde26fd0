// Amendments in a real browser: a delegate proposes one from a selection in
// the tabled text, another delegation discusses it live, the chair tables it
// and puts it to the vote, delegations vote, and the adopted amendment
// changes the text on every open page at once.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  accessibilityProblems,
  ADMIN_EMAIL,
  ADMIN_PASSWORD,
  apiClient,
  blocks,
  findBrowser,
  launchBrowser,
  newContext,
  PASSWORD,
  screenshot,
  signIn,
  startServer,
} from './support.mjs'

const executable = findBrowser()
const PATIENCE = { timeout: 20_000 }
const OPERATIVE_1 = 6
const WORDS = 'national legislation'

/** The amendment's entry in the panel. */
const entry = (page, number) => page.locator('.amend-item', { has: page.locator('.amend-num', { hasText: new RegExp(`^Amendment ${number}$`) }) })

/** Opens the amendment's thread and actions in the panel (if not open yet). */
async function expand(page, number) {
  const head = entry(page, number).locator('.amend-head')
  if ((await head.getAttribute('aria-expanded')) !== 'true') await head.click()
  await entry(page, number).locator('.amend-detail').waitFor(PATIENCE)
}

/** Where `words` are in block `index`: the middle of the left edge of the first letter and of the right edge of the last. */
async function wordsAt(page, index, words) {
  const block = page.locator('.res-main .resolution-text > .block').nth(index)
  await block.scrollIntoViewIfNeeded()
  const points = await block.evaluate((element, wanted) => {
    const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT)
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const at = node.textContent.indexOf(wanted)
      if (at < 0) continue
      const rectOf = (offset) => {
        const range = document.createRange()
        range.setStart(node, offset)
        range.setEnd(node, offset + 1)
        return range.getClientRects()[0]
      }
      const first = rectOf(at)
      const last = rectOf(at + wanted.length - 1)
      return { x1: first.left + 1, y1: first.top + first.height / 2, x2: last.right - 1, y2: last.top + last.height / 2 }
    }
    return null
  }, words)
  assert.ok(points, `"${words}" is in block ${index}`)
  return points
}

/** Selects `words` in block `index` with the mouse, as a person would, from the first letter to the last. */
async function selectWords(page, index, words) {
  const points = await wordsAt(page, index, words)
  await page.mouse.move(points.x1, points.y1)
  await page.mouse.down()
  await page.mouse.move((points.x1 + points.x2) / 2, (points.y1 + points.y2) / 2, { steps: 4 })
  await page.mouse.move(points.x2, points.y2, { steps: 4 })
  await page.mouse.up()
}

describe('amendments, from a selection to the adopted text', { skip: executable ? false : 'no Chromium or Chrome installed' }, () => {
  let server
  let browser
  const contexts = []

  before(async () => {
    server = await startServer({ args: ['--demo'] })
    browser = await launchBrowser(executable)
  })

  after(async () => {
    for (const context of contexts) await context.close().catch(() => {})
    await browser?.close()
    await server?.stop()
  })

  test('propose, discuss live, table, vote, adopt: every page shows the new text', async () => {
    // The demo meeting holds a whole draft; the secretariat adds our people.
    const meetingLine = await server.waitFor((line) => line.startsWith('demo meeting set up: '), 'the demo meeting')
    const meetingId = new URL(meetingLine.slice('demo meeting set up: '.length)).pathname.split('/').pop()
    const admin = await apiClient(server.url, ADMIN_EMAIL, ADMIN_PASSWORD)
    const detail = await admin.get(`/api/meetings/${meetingId}`)
    const resolution = detail.resolutions[0].id
    const delegation = (name) => detail.delegations.find((d) => d.name === name).id
    const people = {
      peru: { email: 'peru.test@plenary.example', name: 'Rosa Quispe', role: 'delegate', delegation_id: delegation('Peru') },
      brazil: { email: 'brazil.test@plenary.example', name: 'Ana Paula Souza', role: 'delegate', delegation_id: delegation('Brazil') },
      mexico: { email: 'mexico.test@plenary.example', name: 'Claudia Hernández', role: 'delegate', delegation_id: delegation('Mexico') },
      chair: { email: 'chair.test@plenary.example', name: 'María Fernanda Ruiz', role: 'chair' },
    }
    for (const person of Object.values(people)) await admin.post('/api/users', { ...person, password: PASSWORD })
    const chairApi = await apiClient(server.url, people.chair.email, PASSWORD)
    await chairApi.post(`/api/resolutions/${resolution}/phase`, { phase: 'tabled' })

    const open = async (person, { axe = false } = {}) => {
      // bypassCSP: only where axe-core is injected.
      // The page with axe-core is also the one pictured: a taller window shows the whole thread.
      const context = await newContext(browser, { width: 1366, height: axe ? 1080 : 900, bypassCSP: axe })
      contexts.push(context)
      const page = await context.newPage()
      page.on('pageerror', (error) => console.error(`[${person}] page error:`, error.stack))
      page.on('dialog', (dialog) => void dialog.accept())
      await signIn(page, server.url, people[person].email, PASSWORD, `/resolutions/${resolution}`)
      await page.locator('.connection[data-state="synced"]').waitFor(PATIENCE)
      await page.locator('.amend-panel').waitFor(PATIENCE)
      return page
    }
    const a = await open('peru')
    const b = await open('brazil', { axe: true })
    const original = (await blocks(a))[OPERATIVE_1]
    assert.match(original, /bring their national legislation into line/)

    // A click in the read-only text leaves a cursor: words would be inserted after the word it follows.
    const protocol = await wordsAt(a, OPERATIVE_1, 'Protocol')
    await a.mouse.click(protocol.x2, protocol.y2)
    await a.getByTestId('amend-selection').filter({ hasText: 'Cursor after: “Protocol”' }).waitFor(PATIENCE)

    // A selects the words in the read-only text and proposes a replacement.
    await selectWords(a, OPERATIVE_1, WORDS)
    await a.getByTestId('amend-selection').filter({ hasText: `“${WORDS}”` }).waitFor(PATIENCE)
    await a.getByRole('button', { name: 'Propose an amendment' }).click()
    const form = a.getByRole('dialog', { name: 'Propose an amendment' })
    await form.waitFor()
    assert.equal(await form.getByLabel('What the amendment does').inputValue(), 'replace')
    assert.equal(await form.getByLabel('The words, exactly as in the text').inputValue(), WORDS)
    await form.getByLabel('The new words').fill('national legislation and regional agreements')
    await form.getByLabel('Rationale (why)').fill('Trafficking networks cross borders: so must the law.')
    await form.getByRole('button', { name: 'Propose', exact: true }).click()
    await form.waitFor({ state: 'hidden' })
    await entry(a, 1).locator('.amend-status', { hasText: 'Proposed' }).waitFor(PATIENCE)
    assert.match(await entry(a, 1).locator('.amend-wording').innerText(), /In operative paragraph 1, replace the words “national legislation” with “national legislation and regional agreements”\./)

    // The words are highlighted, labelled with the amendment, in both pages;
    // B saw it arrive without a reload.
    for (const page of [a, b]) {
      const mark = page.locator('.resolution-text .amend-mark')
      await mark.first().waitFor(PATIENCE)
      assert.equal(await mark.innerText(), WORDS)
      assert.match(await mark.getAttribute('title'), /^Amendment 1: In operative paragraph 1/)
      const describedBy = await mark.getAttribute('aria-describedby')
      assert.match(await page.locator(`#${describedBy}`).innerText(), /replace the words/)
    }
    await entry(b, 1).waitFor(PATIENCE)

    // B opens it (focusing its words) and comments; A sees the comment live.
    await expand(b, 1)
    await b.getByRole('textbox', { name: 'Add a comment' }).fill('Brazil supports this: our border states need it.')
    await b.getByRole('button', { name: 'Send' }).click()
    await entry(b, 1).getByTestId('comments').filter({ hasText: 'Brazil supports this' }).waitFor(PATIENCE)
    await expand(a, 1)
    const comment = entry(a, 1).locator('.comment', { hasText: 'Brazil supports this' })
    await comment.waitFor(PATIENCE)
    assert.match(await comment.locator('.comment-author').innerText(), /Ana Paula Souza/)
    // A answers; B sees the reply, under the comment.
    await comment.getByRole('button', { name: 'Reply' }).click()
    await a.getByRole('textbox', { name: 'Reply to Ana Paula Souza' }).fill('Thank you, Brazil.')
    await a.getByRole('textbox', { name: 'Reply to Ana Paula Souza' }).press('Tab')
    await comment.getByRole('button', { name: 'Send' }).click()
    await entry(b, 1).locator('.replies .comment', { hasText: 'Thank you, Brazil.' }).waitFor(PATIENCE)
    // B edits its own comment (A may not: no such button); A sees the new words live.
    const own = entry(b, 1).locator('.comment', { hasText: 'Brazil supports this' }).first()
    assert.equal(await comment.locator(':scope > .comment-actions').getByRole('button', { name: 'Edit' }).count(), 0)
    await own.locator(':scope > .comment-actions').getByRole('button', { name: 'Edit' }).click()
    await b.getByRole('textbox', { name: 'Edit your comment' }).fill('Brazil supports this: our border states need it most.')
    await b.getByRole('button', { name: 'Save' }).click()
    await entry(a, 1).locator('.comment-body', { hasText: 'need it most.' }).waitFor(PATIENCE)
    await entry(a, 1).locator('.comment-edited').first().waitFor(PATIENCE)
    // Only the chair may table it: A has no such button.
    assert.equal(await entry(a, 1).getByRole('button', { name: 'Table it' }).count(), 0)

    // The chair tables it and opens the vote.
    const c = await open('chair')
    await expand(c, 1)
    await entry(c, 1).getByRole('button', { name: 'Table it' }).click()
    await entry(c, 1).locator('.amend-status', { hasText: 'Tabled' }).waitFor(PATIENCE)
    // Mexico proposes (by script) other words for the same place: the
    // chair's voting list puts the one furthest from the text first.
    const mexicoApi = await apiClient(server.url, people.mexico.email, PASSWORD)
    await mexicoApi.post(`/api/resolutions/${resolution}/amendments`, {
      paragraph: 'operative 1',
      action: 'replace',
      old_text: WORDS,
      new_text: 'laws',
    })
    await entry(a, 2).waitFor(PATIENCE)
    await c.getByText('Voting list').click()
    await c.locator('.amend-order-groups li', { hasText: /Amendment 1\s+then\s+Amendment 2/ }).waitFor(PATIENCE)
    await entry(c, 1).getByRole('button', { name: 'Open the vote' }).click()
    await entry(c, 1).locator('.amend-status', { hasText: 'Being voted' }).waitFor(PATIENCE)

    // Delegations vote: A and B in their pages (live), Mexico by script.
    await entry(a, 1).getByRole('button', { name: 'Yes', exact: true }).click()
    await entry(b, 1).getByRole('button', { name: 'No', exact: true }).click()
    // B changes its mind before the vote closes.
    await entry(b, 1).getByRole('button', { name: 'No', exact: true, pressed: true }).waitFor(PATIENCE)
    await entry(b, 1).getByRole('button', { name: 'Yes', exact: true }).click()
    const amendmentId = await entry(c, 1).getAttribute('data-amendment')
    await mexicoApi.post(`/api/amendments/${amendmentId}/votes`, { vote: 'abstain' })
    const tally = entry(c, 1).getByTestId('tally')
    await tally.filter({ hasText: /Yes: 2\s*No: 0\s*Abstain: 1/ }).waitFor(PATIENCE)
    await entry(a, 1).getByTestId('tally').filter({ hasText: /Yes: 2\s*No: 0\s*Abstain: 1/ }).waitFor(PATIENCE)

    // The picture: the highlighted words, the panel with the thread and the vote.
    await b.locator('.resolution-text .amend-mark').scrollIntoViewIfNeeded()
    await b.evaluate(() => {
      const mark = document.querySelector('.resolution-text .amend-mark')
      window.scrollBy(0, mark.getBoundingClientRect().top - 220)
      document.querySelector('.amend-panel').scrollTop = 0
    })
    await b.mouse.move(0, 0)
    await screenshot(b, 'amendments', { committed: process.env.PLENARY_UPDATE_SCREENSHOTS === '1' })
    await screenshot(b, 'amendments')
    assert.deepEqual(await accessibilityProblems(b), [], 'the panel, the thread and the vote are accessible')
    // Every move is a labelled button within reach of the keyboard.
    await entry(b, 1).getByRole('button', { name: 'Abstain' }).focus()
    await b.keyboard.press('Shift+Tab')
    assert.equal(await b.evaluate(() => document.activeElement?.textContent), 'No')

    // The chair closes the vote: adopted, and applied to the live text.
    await entry(c, 1).getByRole('button', { name: 'Close the vote' }).click()
    await entry(c, 1).getByTestId('result').filter({ hasText: 'Adopted: 2 in favour, 0 against, 1 abstentions' }).waitFor(PATIENCE)
    for (const page of [a, b, c]) {
      await page
        .locator('.res-main .resolution-text > .block')
        .nth(OPERATIVE_1)
        .filter({ hasText: 'bring their national legislation and regional agreements into line with it;' })
        .waitFor(PATIENCE)
      await entry(page, 1).locator('.amend-status', { hasText: 'Adopted' }).waitFor(PATIENCE)
      // Decided: its words are no longer marked as amended.
      await page.locator('.resolution-text .amend-mark').waitFor({ state: 'detached', ...PATIENCE })
    }
    assert.equal((await blocks(a))[OPERATIVE_1], original.replace(WORDS, 'national legislation and regional agreements'))
    // Mexico's amendment to the same words fell with the adoption.
    await entry(b, 2).locator('.amend-status', { hasText: 'Fallen' }).waitFor(PATIENCE)

    // Whole paragraphs are amended from the same form: A proposes to move one.
    await a.getByRole('button', { name: 'Propose an amendment' }).click()
    await form.waitFor()
    await form.getByLabel('What the amendment does').selectOption('move_paragraph')
    const paragraph = form.getByLabel('Paragraph', { exact: true })
    await paragraph.selectOption(await paragraph.locator('option', { hasText: 'Operative paragraph 6 —' }).getAttribute('value'))
    await form.getByLabel('To follow').selectOption('operative 1')
    await form.getByRole('button', { name: 'Propose', exact: true }).click()
    await form.waitFor({ state: 'hidden' })
    await b.locator('.amend-wording', { hasText: 'Move operative paragraph 6 to follow operative paragraph 1.' }).waitFor(PATIENCE)
  })
})
