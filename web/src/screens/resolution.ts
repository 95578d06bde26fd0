// The resolution editor: the text as it will be printed, edited together live.
import type { EditorView } from 'prosemirror-view'
import type { Command } from 'prosemirror-state'
import { undo, redo } from 'y-prosemirror'
import type { Context, Screen } from '../main'
import { api, sessionAlive, type Delegation, type Meeting, type Phase, type ResolutionView } from '../api'
import { announce, h, append, replace } from '../dom'
import { t, type MessageKey } from '../i18n'
import { LiveDocument, type ConnectionState } from '../live'
import { createBodyView, type RemoteUser } from '../editor'
import { currentKind, indent, outdent, setKind, toggleBold, toggleItalic, type Kind } from '../commands'
import { schema } from '../schema'
import { errorMessage, showError } from './errors'
import { phaseBadge, sponsorNames, sponsorsLine } from './parts'
import { colorOf } from '../color'
import { historyFeature } from './history'
import { amendmentsPanel } from './amendments'

const isMac = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform)

/** How a key combination is written in the help and the tooltips, in the current language. */
export function keyLabel(combo: string): string {
  return combo
    .split('-')
    .map((part) => {
      switch (part) {
        case 'Mod':
          return isMac ? '⌘' : t('key.ctrl')
        case 'Shift':
          return t('key.shift')
        case 'Enter':
          return t('key.enter')
        case 'Tab':
          return t('key.tab')
        case 'Escape':
          return t('key.esc')
        case 'Backspace':
          return t('key.backspace')
        default:
          return part.length === 1 ? part.toUpperCase() : part
      }
    })
    .join('+')
}

/** The shortcuts, as the help panel lists them (the keymap is in editor.ts). */
export const SHORTCUTS: { action: MessageKey; keys: string[] }[] = [
  { action: 'shortcut.newParagraph', keys: ['Enter'] },
  { action: 'shortcut.operative', keys: ['Mod-Shift-O'] },
  { action: 'shortcut.preamble', keys: ['Mod-Shift-P'] },
  { action: 'shortcut.heading', keys: ['Mod-Shift-H'] },
  { action: 'shortcut.indent', keys: ['Tab'] },
  { action: 'shortcut.outdent', keys: ['Shift-Tab', 'Backspace'] },
  { action: 'shortcut.emptyEnter', keys: ['Enter'] },
  { action: 'shortcut.italic', keys: ['Mod-I'] },
  { action: 'shortcut.bold', keys: ['Mod-B'] },
  { action: 'shortcut.undo', keys: ['Mod-Z'] },
  { action: 'shortcut.redo', keys: ['Mod-Y', 'Mod-Shift-Z'] },
  { action: 'shortcut.leave', keys: ['Escape'] },
  { action: 'shortcut.help', keys: ['Mod-/'] },
]

const KINDS: { kind: Kind; label: MessageKey }[] = [
  { kind: 'preamble', label: 'kind.preamble' },
  { kind: 'operative', label: 'kind.operative' },
  { kind: 'sub1', label: 'kind.sub1' },
  { kind: 'sub2', label: 'kind.sub2' },
  { kind: 'heading', label: 'kind.heading' },
]

function lockIcon(): SVGElement {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
  svg.setAttribute('viewBox', '0 0 16 16')
  svg.setAttribute('aria-hidden', 'true')
  svg.setAttribute('class', 'lock')
  svg.innerHTML = '<rect x="3" y="7" width="10" height="7.5" rx="1.5" fill="currentColor"/><path d="M5 7V5a3 3 0 0 1 6 0v2" fill="none" stroke="currentColor" stroke-width="1.8"/>'
  return svg
}

/** Why the text is read-only for this person now, or null if they may edit it. */
export function readOnlyReason(role: string, phase: Phase, mayEdit: boolean): string | null {
  if (mayEdit) return null
  if (role === 'observer') return t('res.readOnly.observer')
  if (phase === 'tabled' || phase === 'voting') return t('res.readOnly.tabled')
  if (phase !== 'drafting') return t('res.readOnly.final', { phase: t(`phase.${phase}`).toLocaleLowerCase() })
  return t('res.readOnly.notSponsor')
}

/** "Ana Souza · Brazil", or the role for those without a delegation. */
export function personLabel(user: RemoteUser): string {
  const name = user.name ?? '?'
  if (user.delegation) return `${name} · ${user.delegation}`
  if (user.role === 'secretariat' || user.role === 'chair' || user.role === 'delegate' || user.role === 'observer') {
    return `${name} · ${t(`role.${user.role}`)}`
  }
  return name
}

export function statusText(state: ConnectionState, now: number = Date.now()): string {
  switch (state.kind) {
    case 'connecting':
      return t('status.connecting')
    case 'syncing':
      return t('status.syncing')
    case 'synced':
      return t('status.synced')
    case 'offline': {
      const seconds = Math.max(0, Math.ceil((state.retryAt - now) / 1000))
      return seconds > 0 ? t('status.offlineRetry', { seconds }) : t('status.connecting')
    }
    case 'stopped':
      return t('status.stopped')
  }
}

/** The connection indicator with its message and actions; shared with the projector. */
export function connectionIndicator(live: () => LiveDocument | null, ctx: Context, compact = false) {
  const element = h('div', { class: 'connection', role: 'status', 'aria-live': 'polite' })
  let state: ConnectionState = { kind: 'connecting' }
  let tick: ReturnType<typeof setInterval> | null = null
  const draw = () => {
    const children: (Node | string)[] = [
      h('span', { class: `dot dot-${state.kind}`, 'aria-hidden': 'true' }),
      h('span', { class: 'connection-text' }, compact ? '' : `${t('status.label')}: `, h('strong', {}, statusText(state))),
    ]
    element.dataset.state = state.kind
    if (state.kind === 'offline' && !compact) {
      children.push(
        h('button', { class: 'link-button', type: 'button', onclick: () => live()?.reconnectNow() }, t('status.reconnectNow')),
      )
    }
    if (state.kind === 'stopped') {
      const message = state.why === 'session' ? t('status.sessionEnded') : t('status.refused', { reason: state.reason || String(state.code) })
      children.push(
        h(
          'div',
          { class: 'notice error', role: 'alert' },
          message,
          ' ',
          h('a', { href: `/login?next=${encodeURIComponent(location.pathname)}` }, t('status.signInAgain')),
        ),
      )
    }
    replace(element, ...children)
  }
  const update = (next: ConnectionState) => {
    state = next
    if (tick) clearInterval(tick)
    tick = next.kind === 'offline' ? setInterval(draw, 1000) : null
    if (next.kind === 'stopped' && next.why === 'session') ctx.signedIn(null)
    draw()
  }
  return {
    element,
    update,
    draw,
    destroy: () => {
      if (tick) clearInterval(tick)
    },
  }
}

interface Presence {
  account: string
  user: RemoteUser
  projector: boolean
  self: boolean
}

/** The people connected to the document, one entry per account. */
export function presentPeople(states: Map<number, Record<string, unknown>>, ownClientId: number, ownAccount: string | null): Presence[] {
  const people = new Map<string, Presence>()
  for (const [clientId, state] of states) {
    const user = state.user as (RemoteUser & { account?: string }) | undefined
    if (!user || !user.name) continue
    const account = user.account ?? `client-${clientId}`
    const projector = state.projector === true
    const self = clientId === ownClientId || (ownAccount !== null && account === ownAccount)
    const known = people.get(account)
    if (known) {
      known.projector = known.projector && projector
      known.self = known.self || self
    } else {
      people.set(account, { account, user, projector, self })
    }
  }
  return [...people.values()].sort((a, b) => Number(b.self) - Number(a.self) || (a.user.name ?? '').localeCompare(b.user.name ?? ''))
}

export async function resolutionScreen(ctx: Context, id: string): Promise<Screen> {
  let view: ResolutionView
  let meeting: Meeting
  let delegations: Delegation[]
  ctx.main.setAttribute('aria-busy', 'true')
  try {
    view = await api.resolution(id)
    const detail = await api.meeting(view.resolution.meeting_id)
    meeting = detail.meeting
    delegations = detail.delegations
  } catch (error) {
    ctx.title(t('notFound.title'))
    showError(ctx, error, () => ctx.navigate(location.pathname, { replace: true }))
    return {}
  } finally {
    ctx.main.removeAttribute('aria-busy')
  }
  const me = ctx.me
  const role = me?.account.role ?? 'observer'

  // What the server said last, and what its live connection told us since.
  let refusedByServer = false
  let destroyed = false
  let live: LiveDocument | null = null
  let editor: EditorView | null = null
  const mayEdit = () => view.permissions.edit_body && !refusedByServer
  let wasEditable = mayEdit()

  const headerBox = h('header', { class: 'res-header' })
  const banner = h('div', { class: 'readonly-banner', role: 'status' })
  const toolbar = h('div', { class: 'toolbar', role: 'toolbar' })
  const mount = h('div', { class: 'editor-mount' })
  const paper = h('article', { class: 'paper', tabindex: '-1' }, h('p', { class: 'loading' }, t('res.loading')))
  const sideStatus = h('section', { class: 'side-block' })
  const presenceBox = h('section', { class: 'side-block presence' })
  const helpBox = h('section', { class: 'side-block' })
  const side = h('aside', { class: 'res-side', tabindex: '-1' }, sideStatus, presenceBox, helpBox)
  const helpDialog = h('dialog', { class: 'help-dialog' })
  const messages = h('div', { class: 'res-messages', 'aria-live': 'polite' })
  const connection = connectionIndicator(() => live, ctx)
  sideStatus.append(connection.element)
  const amendments = amendmentsPanel({
    resolutionId: id,
    me,
    resolution: () => view.resolution,
    delegations: () => delegations,
    editor: () => editor,
    onResolutionChange: () => void refresh(),
  })

  const resMain = h('div', { class: 'res-main' }, messages, banner, toolbar, paper)
  const resLayout = h('div', { class: 'res-layout' }, resMain, h('div', { class: 'res-column' }, side, amendments.element))
  append(ctx.main, [h('section', { class: 'page resolution-page' }, headerBox, resLayout, helpDialog)])
  const history = historyFeature({
    resolutionId: id,
    role,
    self: me ? { id: me.account.id, name: me.account.name } : null,
    sponsor: () => Boolean(me?.account.delegation_id && view.resolution.sponsors.includes(me.account.delegation_id)),
    phase: () => view.resolution.phase,
    layout: resLayout,
    main: resMain,
    focusLive: () => (editor ? editor.focus() : paper.focus()),
  })

  const run = (command: Command) => {
    if (!editor || !mayEdit()) return
    command(editor.state, editor.dispatch, editor)
    editor.focus()
  }

  function openHelp(): boolean {
    drawHelp()
    helpDialog.showModal()
    return true
  }

  function drawHeader(): void {
    const resolution = view.resolution
    ctx.title(resolution.title)
    ctx.crumbs([
      { label: t('nav.meetings'), href: '/meetings' },
      { label: meeting.title, href: `/meetings/${meeting.id}` },
      { label: resolution.title },
    ])
    const moves = view.permissions.moves
    // The History button and the Export menu are kept across redraws: keep the focus on them too.
    const focused = document.activeElement
    replace(
      headerBox,
      h('p', { class: 'res-meeting' }, h('a', { href: `/meetings/${meeting.id}` }, meeting.title)),
      h('h1', { class: 'res-title' }, resolution.title),
      h('p', { class: 'res-sponsors' }, sponsorsLine(sponsorNames(resolution, delegations))),
      h(
        'div',
        { class: 'res-meta' },
        phaseBadge(resolution.phase),
        moves.length
          ? h(
              'div',
              { class: 'phase-actions', role: 'group', 'aria-label': t('move.group') },
              moves.map((phase) =>
                h('button', { class: `button ${phase === 'withdrawn' || phase === 'rejected' ? 'danger' : 'secondary'}`, type: 'button', 'data-phase': phase, onclick: () => void move(phase) }, t(`move.${phase}`)),
              ),
            )
          : null,
        h(
          'a',
          { class: 'button quiet projector-link', href: `/resolutions/${resolution.id}/projector`, target: '_blank', rel: 'noopener' },
          t('res.projector'),
          h('span', { class: 'sr-only' }, ` (${t('res.projectorHint')})`),
        ),
        history.button,
        history.exportMenu(),
      ),
    )
    if (focused instanceof HTMLElement && focused !== document.activeElement && headerBox.contains(focused)) focused.focus()
  }

  async function move(phase: Phase): Promise<void> {
    const question = t('move.confirm', { title: view.resolution.title, phase: t(`phase.${phase}`) })
    const extra = phase === 'tabled' ? `\n\n${t('move.confirmTabled')}` : ''
    if (!window.confirm(question + extra)) return
    try {
      view = await api.changePhase(view.resolution.id, phase)
      announce(t('move.done', { phase: t(`phase.${phase}`) }))
      applyPermissions()
    } catch (error) {
      replace(messages, h('div', { class: 'notice error', role: 'alert' }, t('move.failed', { detail: errorMessage(error) })))
    }
  }

  function drawBanner(): void {
    const reason = readOnlyReason(role, view.resolution.phase, mayEdit())
    banner.hidden = reason === null
    if (reason) replace(banner, h('span', { class: 'readonly-badge' }, lockIcon(), t('res.readOnly')), h('span', {}, reason))
  }

  function toolButton(label: MessageKey, keys: string | null, command: Command, extra: Record<string, string> = {}): HTMLButtonElement {
    const text = t(label)
    const hint = keys ? `${text} (${keyLabel(keys)})` : text
    return h(
      'button',
      { class: 'tool', type: 'button', title: hint, 'aria-label': hint, 'data-tool': label, onclick: () => run(command), ...extra },
      h('span', { class: `icon icon-${label.split('.')[1]}`, 'aria-hidden': 'true' }),
    )
  }

  function drawToolbar(): void {
    toolbar.setAttribute('aria-label', t('toolbar.label'))
    toolbar.hidden = !mayEdit()
    const select = h(
      'select',
      {
        class: 'kind-select',
        'aria-label': t('toolbar.kind'),
        title: t('toolbar.kind'),
        onchange: (event: Event) => run(setKind((event.target as HTMLSelectElement).value as Kind)),
      },
      KINDS.map(({ kind, label }) => h('option', { value: kind }, t(label))),
    )
    replace(
      toolbar,
      select,
      h('span', { class: 'tool-sep', 'aria-hidden': 'true' }),
      toolButton('toolbar.outdent', 'Shift-Tab', outdent),
      toolButton('toolbar.indent', 'Tab', indent),
      h('span', { class: 'tool-sep', 'aria-hidden': 'true' }),
      toolButton('toolbar.italic', 'Mod-I', toggleItalic, { 'aria-pressed': 'false' }),
      toolButton('toolbar.bold', 'Mod-B', toggleBold, { 'aria-pressed': 'false' }),
      h('span', { class: 'tool-sep', 'aria-hidden': 'true' }),
      toolButton('toolbar.undo', 'Mod-Z', undo),
      toolButton('toolbar.redo', 'Mod-Y', redo),
      h('span', { class: 'spacer' }),
      h('button', { class: 'tool help-button', type: 'button', title: `${t('toolbar.help')} (${keyLabel('Mod-/')})`, onclick: openHelp }, h('span', { 'aria-hidden': 'true' }, '?'), h('span', { class: 'sr-only' }, t('toolbar.help'))),
    )
    updateToolbar()
  }

  function updateToolbar(): void {
    if (!editor) return
    const state = editor.state
    const kind = currentKind(state)
    const select = toolbar.querySelector<HTMLSelectElement>('.kind-select')
    if (select && kind) select.value = kind
    const marks = state.storedMarks ?? state.selection.$from.marks()
    const active = (name: string) => {
      const type = schema.marks[name]
      if (state.selection.empty) return Boolean(type.isInSet(marks))
      return state.doc.rangeHasMark(state.selection.from, state.selection.to, type)
    }
    toolbar.querySelector('[data-tool="toolbar.italic"]')?.setAttribute('aria-pressed', String(active('italic')))
    toolbar.querySelector('[data-tool="toolbar.bold"]')?.setAttribute('aria-pressed', String(active('bold')))
  }

  function drawHelp(): void {
    replace(
      helpDialog,
      h('h2', { id: 'help-title' }, t('help.title')),
      h('p', {}, t('help.intro')),
      h(
        'table',
        { class: 'shortcuts' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('help.action')), h('th', { scope: 'col' }, t('help.keys')))),
        h(
          'tbody',
          {},
          SHORTCUTS.map(({ action, keys }) =>
            h(
              'tr',
              {},
              h('td', {}, t(action)),
              h(
                'td',
                {},
                keys.map((combo, index) => [index > 0 ? ' / ' : '', h('kbd', {}, keyLabel(combo))]),
              ),
            ),
          ),
        ),
      ),
      h('form', { method: 'dialog' }, h('button', { class: 'button primary', type: 'submit', autofocus: true }, t('common.close'))),
    )
    helpDialog.setAttribute('aria-labelledby', 'help-title')
  }

  function drawSide(): void {
    side.setAttribute('aria-label', t('status.label'))
    connection.draw()
    replace(
      helpBox,
      h('button', { class: 'button quiet wide', type: 'button', onclick: openHelp }, t('toolbar.help'), ' ', h('kbd', {}, keyLabel('Mod-/'))),
    )
    drawPresence()
  }

  function drawPresence(): void {
    const current = live
    const people = current ? presentPeople(current.awareness.getStates() as Map<number, Record<string, unknown>>, current.doc.clientID, me?.account.id ?? null) : []
    replace(
      presenceBox,
      h('h2', { class: 'side-title' }, t('presence.title', { count: people.length })),
      people.length <= 1 ? h('p', { class: 'hint' }, t('presence.alone')) : null,
      h(
        'ul',
        { class: 'people' },
        people.map((person) =>
          h(
            'li',
            {},
            h('span', { class: 'swatch', style: `background:${person.user.color ?? '#6b7280'}`, 'aria-hidden': 'true' }),
            h(
              'span',
              { class: 'person' },
              h('span', { class: 'person-name' }, person.user.name ?? ''),
              person.self ? h('span', { class: 'tag' }, t('presence.you')) : null,
              person.projector ? h('span', { class: 'tag' }, t('presence.projector')) : null,
              h('span', { class: 'person-detail' }, person.user.delegation ?? (person.user.role ? t(`role.${person.user.role}` as MessageKey) : '')),
            ),
          ),
        ),
      ),
    )
  }

  function editorAttributes(): Record<string, string> {
    const editable = mayEdit()
    return {
      class: `resolution-text${editable ? '' : ' read-only'}`,
      role: 'textbox',
      'aria-multiline': 'true',
      'aria-label': t('res.editorLabel'),
      'aria-readonly': String(!editable),
      spellcheck: 'true',
      lang: meeting.languages.length === 1 ? meeting.languages[0] : document.documentElement.lang,
    }
  }

  /** Makes the page follow the permissions (after a refetch, a phase change or a refusal). */
  function applyPermissions(): void {
    const editable = mayEdit()
    drawHeader()
    drawBanner()
    drawToolbar()
    editor?.setProps({ editable: () => mayEdit(), attributes: editorAttributes })
    history.refreshPermissions()
    amendments.resolutionChanged()
    if (editable !== wasEditable) announce(editable ? t('res.nowEditable') : t('res.nowReadOnly'))
    wasEditable = editable
  }

  async function refresh(): Promise<void> {
    try {
      const next = await api.resolution(id)
      if (destroyed) return
      view = next
      // The server's answer is authoritative: a refusal it sent earlier no
      // longer applies if it now says we may edit.
      if (view.permissions.edit_body) refusedByServer = false
      applyPermissions()
    } catch {
      // Offline or signed out: the connection indicator says so.
    }
  }

  async function openLive(): Promise<void> {
    const current = new LiveDocument(id, { presence: { name: me?.account.name ?? '', color: colorOf(me?.account.id ?? '') }, sessionAlive })
    live = current
    current.onState((state) => {
      connection.update(state)
      if (state.kind === 'synced') void refresh()
    })
    current.awareness.on('change', drawPresence)
    current.onPermissionDenied(() => {
      const editableBefore = mayEdit()
      refusedByServer = true
      applyPermissions()
      void refresh()
      // Edits typed just before the text was frozen were refused: show the
      // server's text, not ours.
      if (editableBefore && current.hasLocalChanges()) void reopen()
    })
    current.connect()
    await current.synced()
    if (destroyed || live !== current) return
    replace(paper, mount)
    editor = createBodyView(mount, {
      live: current,
      editable: mayEdit,
      cursors: { label: personLabel },
      attributes: editorAttributes,
      keys: {
        // Out of the text (where Tab indents) to the panel beside it: the
        // next Tab goes on from there.
        Escape: () => {
          side.focus()
          return true
        },
        'Mod-/': () => openHelp(),
      },
      onUpdate: updateToolbar,
      plugins: [amendments.plugin],
    })
    amendments.editorReady()
    updateToolbar()
    drawPresence()
  }

  async function reopen(): Promise<void> {
    const ours = live?.body.toString() ?? ''
    editor?.destroy()
    editor = null
    live?.destroy()
    live = null
    replace(paper, h('p', { class: 'loading' }, t('res.loading')))
    await openLive()
    // Say so only if the server's text differs from what was on the screen.
    if (live && (live as LiveDocument).body.toString() !== ours) {
      replace(messages, h('div', { class: 'notice warning', role: 'status' }, t('res.discarded')))
    }
  }

  drawHeader()
  drawBanner()
  drawToolbar()
  drawSide()
  drawHelp()
  void openLive()

  // Phase and sponsors change on the server: keep them current.
  const poll = setInterval(() => void refresh(), 20_000)
  const onVisible = () => {
    if (document.visibilityState === 'visible') void refresh()
  }
  document.addEventListener('visibilitychange', onVisible)

  return {
    destroy() {
      destroyed = true
      clearInterval(poll)
      document.removeEventListener('visibilitychange', onVisible)
      connection.destroy()
      history.destroy()
      amendments.destroy()
      editor?.destroy()
      live?.destroy()
    },
    relabel() {
      drawHeader()
      drawBanner()
      drawToolbar()
      drawSide()
      drawHelp()
      history.relabel()
      amendments.relabel()
      editor?.setProps({ attributes: editorAttributes })
      const loading = paper.querySelector('.loading')
      if (loading) loading.textContent = t('res.loading')
    },
  }
}
