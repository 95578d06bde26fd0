// What the browser tests stand on: the built `plenary` binary on a free
// port, the API to set up a meeting, and the machine's own Chromium or
// Chrome driven by playwright-core (never a downloaded browser).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { chromium } from 'playwright-core'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const ADMIN_EMAIL = 'secretariat@plenary.example'
export const ADMIN_PASSWORD = 'a long secretariat password'
export const PASSWORD = 'a long delegate password'

/** Where screenshots go: committed ones under docs/screenshots, the rest in an ignored folder. */
export const SHOTS = join(ROOT, 'docs', 'screenshots')
export const SCRATCH_SHOTS = join(ROOT, 'tests', 'browser', 'out')

/** The installed Chromium or Chrome, or null. PLENARY_CHROME names another. */
export function findBrowser() {
  const candidates = [
    process.env.PLENARY_CHROME,
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
    '/opt/google/chrome/chrome',
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
    '/Applications/Chromium.app/Contents/MacOS/Chromium',
  ]
  return candidates.find((path) => path && existsSync(path)) ?? null
}

/** The built server: PLENARY_BIN, else target/debug/plenary (as `cargo build` leaves it). */
export function findBinary() {
  if (process.env.PLENARY_BIN) return process.env.PLENARY_BIN
  const target = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(ROOT, 'target')
  for (const profile of ['debug', 'release']) {
    const path = join(target, profile, 'plenary')
    if (existsSync(path)) return path
  }
  throw new Error('the plenary binary is not built: run `cargo build` first (or set PLENARY_BIN)')
}

/**
 * Starts `plenary serve --bind 127.0.0.1:0` on a fresh SQLite database and
 * reads the address from its first line. `admin`: create the secretariat
 * account from the environment.
 */
export async function startServer({ admin = true, args = [], data = null, bind = '127.0.0.1:0' } = {}) {
  const ownData = data === null
  data ??= mkdtempSync(join(tmpdir(), 'plenary-browser-'))
  const env = { ...process.env, PLENARY_LOG: process.env.PLENARY_LOG ?? 'warn' }
  delete env.PLENARY_DATABASE_URL
  if (admin) {
    env.PLENARY_ADMIN_EMAIL = ADMIN_EMAIL
    env.PLENARY_ADMIN_PASSWORD = ADMIN_PASSWORD
  } else {
    delete env.PLENARY_ADMIN_EMAIL
    delete env.PLENARY_ADMIN_PASSWORD
  }
  const child = spawn(findBinary(), ['serve', '--bind', bind, '--data', data, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = []
  const waiters = []
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(line)
    for (const waiter of [...waiters]) waiter()
  })
  const waitFor = (predicate, what) =>
    new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server did not print ${what}: ${lines.join('\n')}`)), 30_000)
      const check = () => {
        const found = lines.find(predicate)
        if (found !== undefined) {
          clearTimeout(timer)
          waiters.splice(waiters.indexOf(check), 1)
          resolvePromise(found)
        }
      }
      waiters.push(check)
      check()
    })
  const first = await waitFor((line) => line.startsWith('plenary listening on '), 'its address')
  const url = first.slice('plenary listening on '.length).trim()
  const halt = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      await new Promise((done) => child.once('exit', done))
    }
  }
  return {
    url,
    lines,
    waitFor,
    /** Stops the server (SIGTERM) and forgets its database. */
    async stop() {
      await halt()
      if (ownData) rmSync(data, { recursive: true, force: true })
    },
    /** Stops it, waits `downMs`, and starts it again on the same address and database. */
    async restart(downMs = 0) {
      await halt()
      await new Promise((done) => setTimeout(done, downMs))
      const again = await startServer({ admin: false, args: [], data, bind: new URL(url).host })
      return { ...again, stop: async () => { await again.stop(); if (ownData) rmSync(data, { recursive: true, force: true }) } }
    },
  }
}

/** A small API client with a bearer token (the browser uses its cookie instead). */
export async function apiClient(url, email, password) {
  const response = await fetch(`${url}/api/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email, password }),
  })
  if (!response.ok) throw new Error(`sign-in of ${email} failed: ${response.status}`)
  const { token } = await response.json()
  const call = async (method, path, body) => {
    const answer = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await answer.text()
    if (!answer.ok) throw new Error(`${method} ${path}: ${answer.status} ${text}`)
    return text ? JSON.parse(text) : null
  }
  return {
    token,
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
    patch: (path, body) => call('PATCH', path, body),
  }
}

/**
 * A meeting with three delegations, two sponsoring delegates, a delegate of
 * a non-sponsor, a chair and an observer, and one draft resolution.
 */
export async function seedMeeting(url) {
  const admin = await apiClient(url, ADMIN_EMAIL, ADMIN_PASSWORD)
  const { id: meeting } = await admin.post('/api/meetings', {
    title: '7th Annual Meeting of the Network of Women Parliamentarians of the Americas',
    theme: 'Human trafficking',
    starts_on: '2026-12-02',
    ends_on: '2026-12-04',
    place: 'Mexico City, Mexico',
  })
  const delegation = async (name) => (await admin.post(`/api/meetings/${meeting}/delegations`, { name })).id
  const mexico = await delegation('Mexico')
  const brazil = await delegation('Brazil')
  const peru = await delegation('Peru')
  const people = {
    claudia: { email: 'claudia@plenary.example', name: 'Claudia Hernández', role: 'delegate', delegation_id: mexico },
    ana: { email: 'ana@plenary.example', name: 'Ana Paula Souza', role: 'delegate', delegation_id: brazil },
    rosa: { email: 'rosa@plenary.example', name: 'Rosa Quispe', role: 'delegate', delegation_id: peru },
    chair: { email: 'chair@plenary.example', name: 'María Fernanda Ruiz', role: 'chair' },
    observer: { email: 'press@plenary.example', name: 'Press gallery', role: 'observer' },
  }
  for (const person of Object.values(people)) {
    await admin.post('/api/users', { ...person, password: PASSWORD })
  }
  const { id: resolution } = await admin.post(`/api/meetings/${meeting}/resolutions`, {
    title: 'Preventing and combating trafficking in persons, especially women and girls',
    sponsors: [mexico, brazil],
  })
  return { admin, meeting, resolution, delegations: { mexico, brazil, peru }, people }
}

/** The browser, headless, with the flags that suit a container without a GPU. */
export async function launchBrowser(executablePath) {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--font-render-hinting=none',
    ],
  })
}

/** A new context (its own cookies) in `locale`, with a laptop-sized window. */
export async function newContext(browser, { locale = 'en-GB', width = 1366, height = 860, bypassCSP = false } = {}) {
  // bypassCSP: only to inject axe-core; the page's own policy allows no inline script.
  return browser.newContext({ locale, viewport: { width, height }, deviceScaleFactor: 1, bypassCSP })
}

/** Signs in through the sign-in page, as a person would. */
export async function signIn(page, url, email, password = PASSWORD, next = '') {
  await page.goto(`${url}/login${next ? `?next=${encodeURIComponent(next)}` : ''}`)
  await page.locator('#login-email').fill(email)
  await page.locator('#login-password').fill(password)
  await page.locator('form button[type=submit]').click()
  await page.waitForURL((target) => !target.pathname.startsWith('/login'))
}

const AXE = join(ROOT, 'tests', 'browser', 'node_modules', 'axe-core', 'axe.min.js')

/**
 * The serious and critical accessibility problems axe-core finds on the
 * page (WCAG 2.1 A and AA), as readable lines.
 */
export async function accessibilityProblems(page) {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE })
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  )
  return result.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => `${violation.id}: ${violation.help} — ${violation.nodes.map((node) => node.target.join(' ')).slice(0, 4).join(', ')}`)
}

export async function screenshot(page, name, { committed = false, fullPage = false } = {}) {
  const folder = committed ? SHOTS : SCRATCH_SHOTS
  mkdirSync(folder, { recursive: true })
  await page.screenshot({ path: join(folder, `${name}.png`), fullPage })
}

/** The text of each block of the editor (or projector), in order. */
export async function blocks(page, selector = '.resolution-text') {
  // Without the others' cursor flags, which sit inside the text.
  return page.locator(`${selector} > .block`).evaluateAll((elements) =>
    elements.map((element) => {
      const copy = element.cloneNode(true)
      for (const cursor of copy.querySelectorAll('.remote-cursor')) cursor.remove()
      return copy.textContent
    }),
  )
}

/** The numbers shown before the blocks (computed, never stored). */
export async function numbers(page, selector = '.resolution-text') {
  return page.locator(`${selector} > .block`).evaluateAll((elements) => elements.map((element) => element.getAttribute('data-num')))
}
