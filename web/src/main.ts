import './style.css'
import { api, setUnauthorizedHandler, type Me } from './api'
import { h, replace, announce } from './dom'
import { initLanguage, language, LANGUAGES, onLanguageChange, setLanguage, t, type Language } from './i18n'
import { loginScreen } from './screens/login'
import { setupScreen } from './screens/setup'
import { meetingsScreen } from './screens/meetings'
import { meetingScreen } from './screens/meeting'
import { resolutionScreen } from './screens/resolution'
import { projectorScreen } from './screens/projector'
import { notFoundScreen } from './screens/not-found'

/** What a screen gives back: how to end it, and how to relabel it in place. */
export interface Screen {
  /** Called when leaving the screen. */
  destroy?(): void
  /** Called when the language changes; without it, the screen is drawn again. */
  relabel?(): void
}

export interface Context {
  me: Me | null
  /** The main landmark to draw into. */
  main: HTMLElement
  navigate(path: string, options?: { replace?: boolean }): void
  /** Sets the document title ("… — Plenary"). */
  title(text: string): void
  /** Sets the breadcrumb trail under the header. */
  crumbs(items: { label: string; href?: string }[]): void
  /** Records who is signed in (null: the session has ended). */
  signedIn(me: Me | null): void
}

interface Route {
  pattern: RegExp
  needsSession: boolean
  /** Full screen, without the header (the projector). */
  bare?: boolean
  render(ctx: Context, params: string[]): Screen | Promise<Screen>
}

const routes: Route[] = [
  { pattern: /^\/login$/, needsSession: false, render: (ctx) => loginScreen(ctx) },
  { pattern: /^\/setup$/, needsSession: false, render: (ctx) => setupScreen(ctx) },
  { pattern: /^\/(?:meetings)?$/, needsSession: true, render: (ctx) => meetingsScreen(ctx) },
  { pattern: /^\/meetings\/([A-Za-z0-9_-]+)$/, needsSession: true, render: (ctx, [id]) => meetingScreen(ctx, id) },
  { pattern: /^\/resolutions\/([A-Za-z0-9_-]+)$/, needsSession: true, render: (ctx, [id]) => resolutionScreen(ctx, id) },
  {
    pattern: /^\/resolutions\/([A-Za-z0-9_-]+)\/projector$/,
    needsSession: true,
    bare: true,
    render: (ctx, [id]) => projectorScreen(ctx, id),
  },
]

const root = document.getElementById('app') as HTMLElement
let me: Me | null = null
let current: { screen: Screen; route: Route | null; path: string } | null = null
let crumbs: { label: string; href?: string }[] = []
let rendering = 0

const skip = h('a', { class: 'skip-link', href: '#main' })
const header = h('header', { class: 'topbar' })
const crumbBar = h('nav', { class: 'crumbs' })
const main = h('main', { id: 'main', tabindex: '-1' })
const announcer = h('div', { id: 'announcer', class: 'sr-only', 'aria-live': 'polite', 'aria-atomic': 'true' })
root.append(skip, header, crumbBar, main, announcer)
skip.addEventListener('click', (event) => {
  event.preventDefault()
  main.focus()
})

function drawHeader(bare: boolean): void {
  skip.textContent = t('nav.skip')
  header.hidden = bare
  crumbBar.hidden = bare || crumbs.length < 2
  if (bare) return
  const languageSelect = h(
    'select',
    {
      class: 'language',
      'aria-label': t('nav.language'),
      onchange: (event: Event) => setLanguage((event.target as HTMLSelectElement).value as Language),
    },
    LANGUAGES.map(({ code, name }) => h('option', { value: code, lang: code, selected: code === language() }, name)),
  )
  const user = me
    ? h(
        'div',
        { class: 'user', title: t('nav.signedInAs', { name: me.account.name }) },
        h('span', { class: 'user-name' }, me.account.name),
        h('span', { class: 'user-role' }, [t(`role.${me.account.role}`), me.delegation_name ? ` · ${me.delegation_name}` : '']),
      )
    : null
  replace(
    header,
    h(
      'a',
      { class: 'brand', href: me ? '/meetings' : '/login' },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '¶'),
      h('span', { class: 'brand-name' }, t('app.name')),
      h('span', { class: 'brand-tagline' }, t('app.tagline')),
    ),
    h('nav', { class: 'topnav', 'aria-label': t('nav.main') }, me ? h('a', { href: '/meetings' }, t('nav.meetings')) : null),
    h('div', { class: 'spacer' }),
    user,
    h('label', { class: 'language-label' }, h('span', { class: 'sr-only' }, t('nav.language')), globe(), languageSelect),
    me ? h('button', { class: 'button quiet', type: 'button', onclick: signOut }, t('nav.signOut')) : null,
  )
  drawCrumbs()
}

function globe(): SVGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
  svg.setAttribute('viewBox', '0 0 24 24')
  svg.setAttribute('aria-hidden', 'true')
  svg.setAttribute('class', 'globe')
  svg.innerHTML =
    '<circle cx="12" cy="12" r="9.5" fill="none" stroke="currentColor" stroke-width="1.6"/><path d="M2.5 12h19M12 2.5c2.6 2.7 3.9 5.9 3.9 9.5s-1.3 6.8-3.9 9.5M12 2.5C9.4 5.2 8.1 8.4 8.1 12s1.3 6.8 3.9 9.5" fill="none" stroke="currentColor" stroke-width="1.6"/>'
  return svg
}

function drawCrumbs(): void {
  crumbBar.setAttribute('aria-label', t('nav.breadcrumb'))
  crumbBar.hidden = header.hidden || crumbs.length < 2
  replace(
    crumbBar,
    h(
      'ol',
      {},
      crumbs.map((crumb, index) =>
        h(
          'li',
          {},
          crumb.href && index < crumbs.length - 1
            ? h('a', { href: crumb.href }, crumb.label)
            : h('span', { 'aria-current': index === crumbs.length - 1 ? 'page' : null }, crumb.label),
        ),
      ),
    ),
  )
}

async function signOut(): Promise<void> {
  try {
    await api.logout()
  } catch {
    // Signed out already, or the server is away: forget the session here anyway.
  }
  me = null
  navigate('/login')
}

function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', path)
  else history.pushState(null, '', path)
  void render()
}

const context: Context = {
  get me() {
    return me
  },
  main,
  navigate,
  title(text: string) {
    document.title = text ? `${text} — ${t('app.name')}` : t('app.name')
  },
  crumbs(items) {
    crumbs = items
    drawCrumbs()
  },
  signedIn(next: Me | null) {
    me = next
  },
}

async function render(): Promise<void> {
  const ticket = ++rendering
  const path = location.pathname.replace(/\/+$/, '') || '/'
  current?.screen.destroy?.()
  current = null
  crumbs = []
  let route: Route | null = null
  let params: string[] = []
  for (const candidate of routes) {
    const match = candidate.pattern.exec(path)
    if (match) {
      route = candidate
      params = match.slice(1)
      break
    }
  }
  if (route?.needsSession && !me) {
    const next = encodeURIComponent(location.pathname + location.search)
    history.replaceState(null, '', `/login?next=${next}`)
    return render()
  }
  document.body.classList.toggle('bare', Boolean(route?.bare))
  drawHeader(Boolean(route?.bare))
  replace(main)
  main.removeAttribute('aria-busy')
  const screen = route ? await route.render(context, params) : notFoundScreen(context)
  if (ticket !== rendering) {
    screen.destroy?.()
    return
  }
  current = { screen, route, path }
  // Move focus to the new page, as a screen reader user expects after navigation.
  const heading = main.querySelector('h1')
  if (heading) {
    heading.setAttribute('tabindex', '-1')
    heading.focus({ preventScroll: true })
  }
}

// Links inside the app navigate without reloading.
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return
  const link = (event.target as Element | null)?.closest?.('a')
  if (!link || link.target || link.hasAttribute('download')) return
  const url = new URL(link.href, location.href)
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return
  if (url.pathname === location.pathname && url.hash) return
  event.preventDefault()
  navigate(url.pathname + url.search + url.hash)
})
window.addEventListener('popstate', () => void render())

onLanguageChange(() => {
  drawHeader(Boolean(current?.route?.bare))
  if (current?.screen.relabel) {
    current.screen.relabel()
  } else {
    void render()
  }
  announce(LANGUAGES.find((entry) => entry.code === language())?.name ?? '')
})

setUnauthorizedHandler(() => {
  if (!me) return
  me = null
  navigate(`/login?next=${encodeURIComponent(location.pathname)}&ended=1`, { replace: true })
})

async function start(): Promise<void> {
  initLanguage()
  try {
    me = await api.me()
  } catch {
    // Not signed in (401), or the server is away: the sign-in page says which.
    me = null
  }
  await render()
}

void start()
