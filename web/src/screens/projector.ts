// The projector view: the live text in large type, read-only, following the
// edits, for the screen of the meeting room.
import type { EditorView } from 'prosemirror-view'
import type { Context, Screen } from '../main'
import { api, sessionAlive, type Delegation, type Meeting, type ResolutionView } from '../api'
import { h, append, replace } from '../dom'
import { t } from '../i18n'
import { LiveDocument } from '../live'
import { createBodyView } from '../editor'
import { showError } from './errors'
import { phaseBadge, sponsorNames, sponsorsLine } from './parts'
import { connectionIndicator } from './resolution'

const SIZE_KEY = 'plenary.projector.size'
const SIZES = [28, 32, 36, 42, 48, 56, 64]

export async function projectorScreen(ctx: Context, id: string): Promise<Screen> {
  let view: ResolutionView
  let meeting: Meeting
  let delegations: Delegation[]
  try {
    view = await api.resolution(id)
    const detail = await api.meeting(view.resolution.meeting_id)
    meeting = detail.meeting
    delegations = detail.delegations
  } catch (error) {
    showError(ctx, error, () => ctx.navigate(location.pathname, { replace: true }))
    return {}
  }
  let destroyed = false
  let editor: EditorView | null = null
  let size = Number(localStorage.getItem(SIZE_KEY)) || 36
  const live = new LiveDocument(id, { presence: { name: ctx.me?.account.name ?? '' }, sessionAlive })
  // Present, so that the server's echo keeps the idle connection alive, but
  // marked, so that the presence lists say it is the room's screen.
  live.awareness.setLocalStateField('projector', true)

  const header = h('header', { class: 'projector-header' })
  const mount = h('div', { class: 'editor-mount' })
  const text = h('article', { class: 'projector-text' }, h('p', { class: 'loading' }, t('res.loading')))
  const controls = h('div', { class: 'projector-controls' })
  const connection = connectionIndicator(() => live, ctx, true)
  const screen = h('section', { class: 'projector', style: `--projector-size:${size}px` }, header, text, h('footer', { class: 'projector-footer' }, connection.element, controls))
  append(ctx.main, [screen])

  const resize = (step: number) => {
    const index = Math.max(0, Math.min(SIZES.length - 1, SIZES.findIndex((value) => value >= size) + step))
    size = SIZES[index]
    localStorage.setItem(SIZE_KEY, String(size))
    screen.style.setProperty('--projector-size', `${size}px`)
  }

  function draw(): void {
    const resolution = view.resolution
    ctx.title(t('projector.label', { title: resolution.title }))
    screen.setAttribute('aria-label', t('projector.label', { title: resolution.title }))
    replace(
      header,
      h('p', { class: 'projector-meeting' }, meeting.title),
      h('h1', { class: 'projector-title' }, resolution.title),
      h('p', { class: 'projector-sponsors' }, sponsorsLine(sponsorNames(resolution, delegations)), ' ', phaseBadge(resolution.phase)),
    )
    replace(
      controls,
      h('button', { class: 'tool', type: 'button', title: t('projector.smaller'), onclick: () => resize(-1) }, h('span', { 'aria-hidden': 'true' }, 'A−'), h('span', { class: 'sr-only' }, t('projector.smaller'))),
      h('button', { class: 'tool', type: 'button', title: t('projector.larger'), onclick: () => resize(1) }, h('span', { 'aria-hidden': 'true' }, 'A+'), h('span', { class: 'sr-only' }, t('projector.larger'))),
      h('a', { class: 'tool exit', href: `/resolutions/${id}` }, t('projector.exit')),
    )
    connection.draw()
    editor?.setProps({ attributes: attributes })
  }

  const attributes = (): Record<string, string> => ({
    class: 'resolution-text projector-body',
    role: 'document',
    'aria-label': t('res.editorLabel'),
    'aria-live': 'off',
  })

  const onKey = (event: KeyboardEvent) => {
    if (event.target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) return
    if (event.key === '+' || event.key === '=') resize(1)
    if (event.key === '-') resize(-1)
  }
  document.addEventListener('keydown', onKey)

  const refresh = async () => {
    try {
      view = await api.resolution(id)
      if (!destroyed) draw()
    } catch {
      // The indicator tells when the server is away.
    }
  }
  const poll = setInterval(() => void refresh(), 20_000)

  draw()
  live.onState((state) => {
    connection.update(state)
    if (state.kind === 'synced') void refresh()
  })
  live.connect()
  void live.synced().then(() => {
    if (destroyed) return
    replace(text, mount)
    editor = createBodyView(mount, { live, editable: () => false, follow: true, attributes })
  })

  return {
    destroy() {
      destroyed = true
      clearInterval(poll)
      document.removeEventListener('keydown', onKey)
      connection.destroy()
      editor?.destroy()
      live.destroy()
    },
    relabel: draw,
  }
}
