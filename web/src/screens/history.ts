// The History panel of the resolution editor: the versions of the text
// (newest first), naming one, reading one, comparing any two, and restoring
// one (the secretariat). A restore is made by the server on the live
// document, so the editor simply sees it arrive like any other change.
import './history.css'
import { request, type Phase, type Role } from '../api'
import { announce, h, replace } from '../dom'
import { list, t } from '../i18n'
import {
  attributionApi,
  authorShares,
  blockClass,
  compareSummary,
  contributorName,
  diffParagraphs,
  mayNameVersion,
  mayRestoreVersion,
  newestFirst,
  recordedBy,
  versionName,
  versionsApi,
  versionTitle,
  when,
  type Attribution,
  type CompareResponse,
  type Reading,
  type Version,
  type VersionSummary,
  type Which,
} from '../versions'
import { errorMessage } from './errors'
import { resolutionExportMenu } from './export-menu'

export interface HistoryOptions {
  resolutionId: string
  role: Role
  /** The reader's own account (to say "you" recorded a version). */
  self: { id: string; name: string } | null
  /** Whether the reader's delegation sponsors the resolution (now). */
  sponsor: () => boolean
  /** The resolution's phase (now). */
  phase: () => Phase
  /** The editor's layout (`.res-layout`): the panel sits in its side column. */
  layout: HTMLElement
  /** The editor's main column (`.res-main`): a version or a comparison replaces the live text there. */
  main: HTMLElement
  /** Where to put the focus when going back to the live text. */
  focusLive: () => void
}

export interface HistoryFeature {
  /** The "History" button, for the editor's header. */
  button: HTMLButtonElement
  /** The Export menu of the live text, for the editor's header (kept open across redraws). */
  exportMenu(): HTMLDetailsElement
  relabel(): void
  /** The phase or the sponsors changed: offer the actions that now apply. */
  refreshPermissions(): void
  destroy(): void
}

type Mode =
  | { kind: 'live' }
  /** A version (or the live text, with its authors), read only; `authors`: who wrote each paragraph, when asked. */
  | { kind: 'version'; version: Version | null; reading: Reading; authors: Attribution | null }
  | { kind: 'compare'; from: Which; to: Which; result: CompareResponse }

let serial = 0

export function historyFeature(options: HistoryOptions): HistoryFeature {
  const ids = `history-${++serial}`
  const { resolutionId } = options
  let open = false
  let versions: VersionSummary[] | null = null
  let loadError: string | null = null
  let mode: Mode = { kind: 'live' }
  let busy = false
  let events: EventSource | null = null
  let destroyed = false
  const names = new Map<string, string>()
  if (options.self) names.set(options.self.id, options.self.name)

  const button = h('button', {
    class: 'button quiet history-button',
    type: 'button',
    'aria-expanded': 'false',
    'aria-controls': `${ids}-panel`,
    onclick: () => (open ? close() : void show()),
  })
  const panelTitle = h('h2', { id: `${ids}-title`, class: 'history-title', tabindex: '-1' })
  const nameBox = h('div', { class: 'history-name' })
  const listBox = h('div', { class: 'history-list' })
  const closeButton = h('button', { class: 'tool history-close', type: 'button', onclick: () => close() })
  // A complementary region beside the text, not a modal: the text stays
  // readable while one browses its history.
  const panel = h(
    'aside',
    { class: 'history-panel side-block', id: `${ids}-panel`, 'aria-labelledby': `${ids}-title`, hidden: true },
    h('div', { class: 'history-head' }, panelTitle, closeButton),
    nameBox,
    listBox,
  )
  panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !(event.target as Element).closest('details[open]')) {
      event.preventDefault()
      close()
    }
  })
  const area = h('section', { class: 'version-area', 'aria-labelledby': `${ids}-area-title`, hidden: true })
  const confirmDialog = h('dialog', { class: 'help-dialog history-confirm', 'aria-labelledby': `${ids}-confirm-title` })
  options.layout.append(panel)
  options.main.append(area)
  options.layout.append(confirmDialog)

  function drawButton(): void {
    replace(button, h('span', { class: 'history-icon', 'aria-hidden': 'true' }, '⟲'), t('history.button'))
    button.setAttribute('aria-expanded', String(open))
  }

  async function show(): Promise<void> {
    open = true
    panel.hidden = false
    options.layout.classList.add('history-open')
    drawButton()
    drawPanel()
    panelTitle.focus()
    listen()
    await Promise.all([loadVersions(), loadNames()])
  }

  function close(): void {
    open = false
    panel.hidden = true
    options.layout.classList.remove('history-open')
    drawButton()
    events?.close()
    events = null
    button.focus()
  }

  /** While the panel is open, new versions (named elsewhere, a phase change, a restore) appear by themselves. */
  function listen(): void {
    if (events || typeof EventSource === 'undefined') return
    events = new EventSource(`/api/resolutions/${encodeURIComponent(resolutionId)}/events`)
    events.addEventListener('change', (event) => {
      try {
        const data = JSON.parse((event as MessageEvent<string>).data) as { topic?: string }
        if (data.topic === 'version') void loadVersions()
      } catch {
        // Not ours to read.
      }
    })
    events.addEventListener('resync', () => void loadVersions())
  }

  async function loadVersions(): Promise<void> {
    try {
      const next = await versionsApi.list(resolutionId)
      if (destroyed) return
      versions = newestFirst(next)
      loadError = null
    } catch (error) {
      if (destroyed) return
      loadError = errorMessage(error)
    }
    drawList()
    if (mode.kind === 'compare') drawArea()
  }

  /** Who recorded each version: the secretariat may read the accounts; others see the contributors' names. */
  async function loadNames(): Promise<void> {
    if (options.role !== 'secretariat' || names.size > 1) return
    try {
      const accounts = await request<{ id: string; name: string }[]>('GET', '/api/users')
      for (const account of accounts) names.set(account.id, account.name)
      drawList()
    } catch {
      // Not allowed or away: the contributors' names are enough.
    }
  }

  function drawPanel(): void {
    replace(panelTitle, t('history.title'))
    closeButton.setAttribute('aria-label', t('history.close'))
    closeButton.title = t('history.close')
    replace(closeButton, h('span', { 'aria-hidden': 'true' }, '×'))
    drawNameForm()
    drawList()
  }

  function authorsEntry(): HTMLElement {
    return h(
      'p',
      { class: 'history-authors' },
      h('button', { class: 'link-button', type: 'button', 'data-action': 'live-authors', onclick: () => void liveAuthors() }, t('history.authorsLive')),
    )
  }

  function drawNameForm(): void {
    if (!mayNameVersion(options.role, options.sponsor())) {
      replace(nameBox)
      return
    }
    const input = h('input', {
      id: `${ids}-name`,
      class: 'history-name-input',
      type: 'text',
      maxlength: 200,
      required: true,
      autocomplete: 'off',
      placeholder: t('history.namePlaceholder'),
    })
    const message = h('div', { class: 'history-message', 'aria-live': 'polite' })
    const submit = h('button', { class: 'button secondary', type: 'submit' }, t('history.nameButton'))
    const form = h(
      'form',
      { class: 'history-name-form' },
      h('label', { for: `${ids}-name` }, t('history.nameLabel')),
      h('div', { class: 'history-name-row' }, input, submit),
      message,
    )
    form.addEventListener('submit', async (event) => {
      event.preventDefault()
      const name = input.value.trim()
      if (!name) {
        replace(message, h('p', { class: 'notice error', role: 'alert' }, t('history.nameEmpty')))
        input.focus()
        return
      }
      submit.disabled = true
      try {
        await versionsApi.name(resolutionId, name)
        input.value = ''
        replace(message, h('p', { class: 'notice', role: 'status' }, t('history.named', { name })))
        announce(t('history.named', { name }))
        await loadVersions()
      } catch (error) {
        // The server decides who may name a version: say what it said.
        replace(message, h('p', { class: 'notice error', role: 'alert' }, t('history.nameFailed', { detail: errorMessage(error) })))
      } finally {
        submit.disabled = false
      }
    })
    replace(nameBox, form)
  }

  function drawList(): void {
    if (!open) return
    if (loadError) {
      replace(
        listBox,
        h('p', { class: 'notice error', role: 'alert' }, loadError),
        h('button', { class: 'button', type: 'button', onclick: () => void loadVersions() }, t('common.retry')),
      )
      return
    }
    if (versions === null) {
      replace(listBox, h('p', { class: 'loading' }, t('history.loading')))
      return
    }
    const listTitle = h('h3', { id: `${ids}-list`, class: 'side-title' }, t('history.listTitle', { count: versions.length }))
    if (versions.length === 0) {
      replace(listBox, authorsEntry(), listTitle, h('p', { class: 'hint' }, t('history.empty')))
      return
    }
    const viewing = mode.kind === 'version' ? (mode.version?.id ?? null) : null
    replace(
      listBox,
      authorsEntry(),
      listTitle,
      h(
        'ol',
        { class: 'version-list', 'aria-labelledby': `${ids}-list` },
        versions.map((version) => {
          const by = recordedBy(version, names)
          const name = versionName(version)
          return h(
            'li',
            { class: `version-item kind-${version.kind}`, 'data-version': version.number, 'aria-current': viewing === version.id ? 'true' : null },
            h(
              'div',
              { class: 'version-head' },
              h('span', { class: 'version-number' }, h('span', { class: 'sr-only' }, `${t('history.version')} `), String(version.number)),
              h('span', { class: 'version-name' }, name),
            ),
            h('time', { class: 'version-when', datetime: new Date(version.created_at).toISOString() }, when(version.created_at)),
            h('p', { class: 'version-who' }, by ? t('history.recordedBy', { name: by }) : t('history.automatic')),
            version.contributors.length
              ? h('p', { class: 'version-changes' }, t('history.changesBy', { list: list(version.contributors.map(contributorName)) }))
              : null,
            h(
              'div',
              { class: 'version-actions' },
              h(
                'button',
                { class: 'link-button', type: 'button', 'data-action': 'view', 'aria-label': t('history.viewLabel', { number: version.number, name }), onclick: () => void view(version) },
                t('history.view'),
              ),
              h(
                'button',
                {
                  class: 'link-button',
                  type: 'button',
                  'data-action': 'compare',
                  'aria-label': t('history.compareLabel', { number: version.number, name }),
                  onclick: () => void compare(version.id, 'live'),
                },
                t('history.compareWithLive'),
              ),
            ),
          )
        }),
      ),
    )
  }

  function setMode(next: Mode): void {
    mode = next
    const showing = next.kind !== 'live'
    area.hidden = !showing
    options.main.classList.toggle('showing-version', showing)
    drawArea()
    drawList()
  }

  async function view(version: Version): Promise<void> {
    if (busy) return
    busy = true
    try {
      const reading = await versionsApi.read(resolutionId, version.id)
      if (destroyed) return
      setMode({ kind: 'version', version: reading.version ?? version, reading, authors: null })
      focusArea()
      announce(versionTitle(reading.version ?? version))
    } catch (error) {
      showAreaError(error)
    } finally {
      busy = false
    }
  }

  async function compare(from: Which, to: Which): Promise<void> {
    if (busy) return
    busy = true
    try {
      const result = await versionsApi.compare(resolutionId, from, to)
      if (destroyed) return
      setMode({ kind: 'compare', from, to, result })
      focusArea()
      announce(compareSummary(result.comparison))
    } catch (error) {
      showAreaError(error)
    } finally {
      busy = false
    }
  }

  /** The live text as the server reads it, with who wrote each paragraph. */
  async function liveAuthors(): Promise<void> {
    if (busy) return
    busy = true
    try {
      const [reading, authors] = await Promise.all([attributionApi.live(resolutionId), attributionApi.read(resolutionId, null)])
      if (destroyed) return
      setMode({ kind: 'version', version: null, reading, authors })
      focusArea()
    } catch (error) {
      showAreaError(error)
    } finally {
      busy = false
    }
  }

  async function toggleAuthors(): Promise<void> {
    if (mode.kind !== 'version' || !mode.version || busy) return
    if (mode.authors) {
      setMode({ ...mode, authors: null })
      area.querySelector<HTMLElement>('[data-action="authors"]')?.focus()
      return
    }
    busy = true
    try {
      const current = mode
      const authors = await attributionApi.read(resolutionId, current.version!.id)
      if (destroyed || mode !== current) return
      setMode({ ...current, authors })
      area.querySelector<HTMLElement>('[data-action="authors"]')?.focus()
    } catch (error) {
      showAreaError(error)
    } finally {
      busy = false
    }
  }

  function backToLive(): void {
    setMode({ kind: 'live' })
    options.focusLive()
  }

  function focusArea(): void {
    const title = area.querySelector<HTMLElement>('.version-area-title')
    title?.focus()
    title?.scrollIntoView({ block: 'nearest' })
  }

  function showAreaError(error: unknown): void {
    area.hidden = false
    options.main.classList.add('showing-version')
    mode = { kind: 'live' }
    replace(
      area,
      h('h2', { id: `${ids}-area-title`, class: 'version-area-title', tabindex: '-1' }, t('history.title')),
      h('p', { class: 'notice error', role: 'alert' }, errorMessage(error)),
      backButton(),
    )
    focusArea()
  }

  function backButton(): HTMLButtonElement {
    return h('button', { class: 'button primary', type: 'button', 'data-action': 'live', onclick: backToLive }, h('span', { 'aria-hidden': 'true' }, '← '), t('history.backToLive'))
  }

  function drawArea(): void {
    if (mode.kind === 'live') {
      replace(area)
      return
    }
    if (mode.kind === 'version') drawVersion(mode.version, mode.reading, mode.authors)
    else drawCompare(mode)
  }

  function drawVersion(version: Version | null, reading: Reading, authors: Attribution | null): void {
    const byParagraph = new Map((authors?.paragraphs ?? []).map((paragraph) => [paragraph.id, paragraph.shares]))
    const authorLine = (id: string) => {
      if (!authors) return null
      const shares = authorShares(byParagraph.get(id) ?? [], authors.names)
      if (shares.length === 0) return null
      return h(
        'p',
        { class: 'authors-line' },
        h('span', { class: 'sr-only' }, `${t('history.authorsOf')}: `),
        shares.map((share) => t('history.authorShare', { name: share.name, percent: share.percent })).join(' · '),
      )
    }
    const restore = version && mayRestoreVersion(options.role, options.phase())
      ? h('button', { class: 'button danger', type: 'button', 'data-action': 'restore', onclick: () => confirmRestore(version) }, t('history.restore'))
      : null
    replace(
      area,
      h(
        'div',
        { class: 'version-bar' },
        version ? h('p', { class: 'version-kicker' }, t('history.viewingOld')) : null,
        h('h2', { id: `${ids}-area-title`, class: 'version-area-title', tabindex: '-1' }, version ? versionTitle(version) : t('history.authorsLiveTitle')),
        version?.reason && version.kind !== 'amendment' ? h('p', { class: 'version-reason' }, version.reason) : null,
        h(
          'div',
          { class: 'version-bar-actions' },
          backButton(),
          version
            ? h('button', { class: 'button secondary', type: 'button', 'data-action': 'compare-live', onclick: () => void compare(version.id, 'live') }, t('history.compareWithLive'))
            : null,
          version
            ? h(
                'button',
                { class: 'button secondary', type: 'button', 'data-action': 'authors', 'aria-pressed': String(Boolean(authors)), onclick: () => void toggleAuthors() },
                authors ? t('history.authorsHide') : t('history.authorsShow'),
              )
            : null,
          restore,
          version ? resolutionExportMenu(resolutionId, version) : null,
        ),
      ),
      h(
        'article',
        { class: 'paper version-paper' },
        h(
          'div',
          {
            class: `resolution-text read-only version-text${authors ? ' with-authors' : ''}`,
            role: 'document',
            'aria-label': version ? t('history.textOf', { number: version.number }) : t('history.authorsLiveTitle'),
          },
          reading.blocks.length === 0 ? h('p', { class: 'hint' }, t('history.emptyText')) : null,
          reading.blocks.map((block) => [
            h(
              block.kind === 'heading' ? 'h3' : 'p',
              { class: `block ${blockClass(block.kind)}`, 'data-id': block.id, 'data-level': block.kind === 'subparagraph' ? String(block.level === 2 ? 2 : 1) : null, 'data-num': block.number },
              block.inlines.map((inline) => {
                let node: Node = document.createTextNode(inline.text)
                if (inline.bold) node = h('strong', {}, node)
                if (inline.italic) node = h('em', {}, node)
                return node
              }),
            ),
            authorLine(block.id),
          ]),
        ),
      ),
    )
  }

  function versionOptions(selected: Which): HTMLOptionElement[] {
    return [
      h('option', { value: 'live', selected: selected === 'live' }, t('history.liveText')),
      ...(versions ?? []).map((version) =>
        h('option', { value: version.id, selected: selected === version.id }, t('history.optionLabel', { number: version.number, name: versionName(version) })),
      ),
    ]
  }

  function sideLabel(version: Version | null): string {
    return version ? versionTitle(version) : t('history.liveText')
  }

  function drawCompare(current: Extract<Mode, { kind: 'compare' }>): void {
    const { result } = current
    const fromSelect = h('select', { id: `${ids}-from`, class: 'compare-from' }, versionOptions(current.from))
    const toSelect = h('select', { id: `${ids}-to`, class: 'compare-to' }, versionOptions(current.to))
    const picker = h(
      'form',
      { class: 'compare-picker', 'aria-label': t('history.pickTitle') },
      h('div', { class: 'field' }, h('label', { for: `${ids}-from` }, t('history.compareFrom')), fromSelect),
      h('span', { class: 'compare-arrow', 'aria-hidden': 'true' }, '→'),
      h('div', { class: 'field' }, h('label', { for: `${ids}-to` }, t('history.compareTo')), toSelect),
      h('button', { class: 'button secondary', type: 'submit' }, t('history.compareButton')),
    )
    picker.addEventListener('submit', (event) => {
      event.preventDefault()
      void compare(fromSelect.value, toSelect.value)
    })
    const paragraphs = diffParagraphs(result.comparison)
    replace(
      area,
      h(
        'div',
        { class: 'version-bar' },
        h('p', { class: 'version-kicker' }, t('history.comparing')),
        h('h2', { id: `${ids}-area-title`, class: 'version-area-title', tabindex: '-1' }, t('history.compareTitle', { from: sideLabel(result.from), to: sideLabel(result.to) })),
        h('div', { class: 'version-bar-actions' }, backButton()),
        picker,
        h('p', { class: 'compare-summary', role: 'status' }, compareSummary(result.comparison)),
        h(
          'p',
          { class: 'compare-legend' },
          h('span', { class: 'sr-only' }, `${t('history.legend')}: `),
          h('ins', {}, t('history.legendInserted')),
          ' ',
          h('del', {}, t('history.legendDeleted')),
          result.comparison.moved ? [' ', h('span', { class: 'para-tag tag-moved' }, t('history.moved'))] : null,
        ),
      ),
      h(
        'article',
        { class: 'paper version-paper' },
        h(
          'div',
          { class: 'resolution-text read-only compare-text', role: 'document', 'aria-label': t('history.compareTextLabel') },
          paragraphs.length === 0 ? h('p', { class: 'hint' }, t('history.emptyText')) : null,
          paragraphs.map((paragraph) => {
            const tag =
              paragraph.status === 'added'
                ? t('history.paragraphAdded')
                : paragraph.status === 'removed'
                  ? t('history.paragraphRemoved')
                  : paragraph.moved
                    ? t('history.moved')
                    : null
            return h(
              'div',
              {
                class: `block ${blockClass(paragraph.kind)} status-${paragraph.status}${paragraph.moved ? ' moved' : ''}`,
                'data-id': paragraph.id,
                'data-status': paragraph.status,
                'data-level': paragraph.kind === 'subparagraph' ? String(paragraph.level === 2 ? 2 : 1) : null,
                'data-num': paragraph.number,
              },
              tag ? h('span', { class: `para-tag tag-${paragraph.moved && paragraph.status !== 'added' && paragraph.status !== 'removed' ? 'moved' : paragraph.status}` }, tag) : null,
              paragraph.formerNumber ? h('span', { class: 'para-tag tag-renumbered' }, t('history.formerly', { number: paragraph.formerNumber })) : null,
              paragraph.runs.map((run) => {
                if (run.op === 'equal') return run.text
                // Screen readers do not all announce <ins> and <del>: say it in words too.
                const [open, element] =
                  run.op === 'insert'
                    ? [t('history.srInserted'), h('ins', { title: t('history.legendInserted') }, run.text)]
                    : [t('history.srDeleted'), h('del', { title: t('history.legendDeleted') }, run.text)]
                return [h('span', { class: 'sr-only' }, `[${open} `), element, h('span', { class: 'sr-only' }, ` ${t('history.srEnd')}]`)]
              }),
            )
          }),
        ),
      ),
    )
  }

  function confirmRestore(version: Version): void {
    const message = h('div', { class: 'history-message', 'aria-live': 'polite' })
    const confirm = h('button', { class: 'button danger', type: 'button', 'data-action': 'confirm-restore' }, t('history.restoreConfirmButton', { number: version.number }))
    const cancel = h('button', { class: 'button', type: 'button', autofocus: true, onclick: () => confirmDialog.close() }, t('history.cancel'))
    confirm.addEventListener('click', async () => {
      confirm.disabled = true
      try {
        await versionsApi.restore(resolutionId, version.id)
        confirmDialog.close()
        announce(t('history.restored', { number: version.number }))
        backToLive()
        void loadVersions()
      } catch (error) {
        // Refused (not the secretariat, or the text was decided): the server says why.
        replace(message, h('p', { class: 'notice error', role: 'alert' }, t('history.restoreFailed', { detail: errorMessage(error) })))
        confirm.disabled = false
      }
    })
    replace(
      confirmDialog,
      h('h2', { id: `${ids}-confirm-title` }, t('history.restoreTitle', { number: version.number })),
      h('p', {}, t('history.restoreQuestion', { title: versionTitle(version) })),
      h('p', { class: 'hint' }, t('history.restoreExplain')),
      message,
      h('div', { class: 'dialog-actions' }, cancel, confirm),
    )
    confirmDialog.showModal()
    cancel.focus()
  }

  let liveExport: HTMLDetailsElement | null = null
  drawButton()
  let permissions = `${mayNameVersion(options.role, options.sponsor())} ${mayRestoreVersion(options.role, options.phase())}`

  return {
    button,
    exportMenu() {
      liveExport ??= resolutionExportMenu(resolutionId)
      return liveExport
    },
    relabel() {
      drawButton()
      liveExport = null
      if (open) drawPanel()
      drawArea()
      if (confirmDialog.open) confirmDialog.close()
    },
    refreshPermissions() {
      // Redrawn only when they change: a redraw would drop what is being typed.
      const now = `${mayNameVersion(options.role, options.sponsor())} ${mayRestoreVersion(options.role, options.phase())}`
      if (now === permissions) return
      permissions = now
      if (open) drawNameForm()
      if (mode.kind === 'version') drawArea()
    },
    destroy() {
      destroyed = true
      events?.close()
      events = null
      options.main.classList.remove('showing-version')
    },
  }
}
