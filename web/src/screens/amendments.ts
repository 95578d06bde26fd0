// The amendments beside the resolution's text: proposing one from a
// selection, the list in text order with a filter, each one's thread,
// lifecycle buttons and vote; kept live by the resolution's event stream.
import type { EditorView } from 'prosemirror-view'
import { TextSelection } from 'prosemirror-state'
import { ySyncPluginKey } from 'y-prosemirror'
import type { Delegation, Me, Resolution } from '../api'
import {
  ACTION_LABEL,
  BALLOT_LABEL,
  STATUSES,
  STATUS_LABEL,
  amendApi,
  changesBetween,
  countByFilter,
  filterAmendments,
  highlighted,
  isOpen,
  isWords,
  mayPropose,
  mayVote,
  movesFor,
  needsNewText,
  needsParagraph,
  newComments,
  ownVote,
  ownsComment,
  paragraphNames,
  reference,
  threadOf,
  wordBefore,
  wordingIn,
  type AmendAction,
  type Amendment,
  type AmendmentDetail,
  type Ballot,
  type Filter,
  type Move,
  type ParagraphName,
  type ThreadNode,
  type Viewer,
} from '../amend'
import { anchorSelection, type Binding, type SelectionAnchor } from '../anchors'
import { amendHighlightPlugin, highlightRange, setHighlights, type HighlightSpec } from '../amend-highlight'
import { announce, h, replace } from '../dom'
import { language, locale, t, type MessageKey } from '../i18n'
import { errorMessage } from './errors'

export interface AmendmentsPanelOptions {
  resolutionId: string
  me: Me | null
  /** The resolution as last fetched (phase, sponsors). */
  resolution: () => Resolution
  delegations: () => Delegation[]
  /** The editor, once the text is loaded. */
  editor: () => EditorView | null
  /** The resolution's record or versions changed (refetch its phase). */
  onResolutionChange: () => void
}

const ACTIONS: AmendAction[] = ['replace', 'insert', 'delete', 'add_paragraph', 'delete_paragraph', 'move_paragraph', 'title']

/** The element ids the text's highlights point at (aria-describedby). */
export const wordingId = (id: string) => `amend-wording-${id}`

/** "Operative paragraph 3 (b)", in the current language. */
export function paragraphLabel(name: ParagraphName): string {
  if (name.kind === 'heading') return t('amend.para.heading')
  return t(name.kind === 'preamble' ? 'amend.para.preamble' : 'amend.para.operative', { n: name.number })
}

/** "Adopted: 12 in favour, 3 against, 2 abstentions". */
export function resultLine(amendment: Pick<Amendment, 'vote_result' | 'status'>): string | null {
  const result = amendment.vote_result
  if (!result) return null
  return t(result.adopted ? 'amend.result.adopted' : 'amend.result.rejected', { yes: result.yes, no: result.no, abstain: result.abstain })
}

function time(millis: number): string {
  try {
    return new Intl.DateTimeFormat(locale(), { hour: '2-digit', minute: '2-digit', day: 'numeric', month: 'short' }).format(new Date(millis))
  } catch {
    return new Date(millis).toISOString()
  }
}

function statusBadge(status: Amendment['status']): HTMLElement {
  return h('span', { class: `amend-status amend-status-${status}` }, h('span', { class: 'sr-only' }, `${t('amend.statusLabel')}: `), t(STATUS_LABEL[status]))
}

/**
 * Keeps the keyboard focus (and what was typed) where it was while part of
 * the panel is drawn again: the element with the same data-key gets it back.
 */
function keepingFocus(root: HTMLElement, draw: () => void): void {
  const active = document.activeElement as HTMLElement | null
  const key = active && root.contains(active) ? active.dataset.key : undefined
  const field = active instanceof HTMLTextAreaElement || active instanceof HTMLInputElement ? active : null
  const selection = field ? [field.selectionStart, field.selectionEnd] : null
  draw()
  if (!key) return
  const again = root.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`)
  if (!again) return
  again.focus({ preventScroll: true })
  if (selection && (again instanceof HTMLTextAreaElement || again instanceof HTMLInputElement)) {
    again.setSelectionRange(selection[0], selection[1])
  }
}

function bindingOf(view: EditorView): Binding | null {
  const sync = ySyncPluginKey.getState(view.state) as { binding?: Binding | null } | undefined
  return sync?.binding ?? null
}

/**
 * The words selected in the editor, or where its cursor is (a read-only
 * text still has a DOM selection: a click leaves a collapsed one).
 */
function selectedRange(view: EditorView): { from: number; to: number } | null {
  const selection = document.getSelection()
  if (selection && selection.rangeCount > 0) {
    const range = selection.getRangeAt(0)
    if (view.dom.contains(range.startContainer) && view.dom.contains(range.endContainer)) {
      try {
        const from = view.posAtDOM(range.startContainer, range.startOffset)
        const to = view.posAtDOM(range.endContainer, range.endOffset)
        return { from: Math.min(from, to), to: Math.max(from, to) }
      } catch {
        // A position ProseMirror does not know (a widget): fall back to its own selection.
      }
    }
  }
  const { from, to } = view.state.selection
  return to > from ? { from, to } : null
}

/** A cursor (no words selected): the word it follows, to insert after. */
function caretWord(view: EditorView, pos: number): { from: number; to: number } | null {
  const $pos = view.state.doc.resolve(pos)
  if (!$pos.parent.isTextblock) return null
  const word = wordBefore($pos.parent.textContent, $pos.parentOffset)
  return word ? { from: $pos.start() + word[0], to: $pos.start() + word[1] } : null
}

export function amendmentsPanel(options: AmendmentsPanelOptions) {
  const { resolutionId } = options
  const viewer: Viewer = {
    role: options.me?.account.role ?? 'observer',
    account: options.me?.account.id ?? '',
    delegation: options.me?.account.delegation_id ?? null,
  }
  let amendments: Amendment[] = []
  let loaded = false
  let failed: string | null = null
  let filter: Filter = 'all'
  let selected: string | null = null
  let detail: AmendmentDetail | null = null
  let detailError: string | null = null
  let selection: SelectionAnchor | null = null
  /** Whether `selection` is the word before the cursor rather than selected words. */
  let atCursor = false
  let replyTo: string | null = null
  let editing: string | null = null
  const drafts = new Map<string, string>()
  let busy = false
  let destroyed = false

  const title = h('h2', { class: 'side-title', id: 'amend-title' })
  const proposeBox = h('div', { class: 'amend-propose' })
  const filterBox = h('div', { class: 'amend-filter' })
  const list = h('ol', { class: 'amend-list' })
  // The chair's voting list: colliding amendments grouped, each group in voting order.
  const votingBox = h('details', { class: 'amend-order' })
  votingBox.addEventListener('toggle', () => {
    if (votingBox.open) void loadVotingList()
  })
  const message = h('div', { class: 'amend-message', 'aria-live': 'polite' })
  const element = h(
    'aside',
    { class: 'side-block amend-panel', 'aria-labelledby': 'amend-title', 'data-testid': 'amendments' },
    title,
    message,
    proposeBox,
    filterBox,
    list,
    votingBox,
  )
  const dialog = h('dialog', { class: 'help-dialog amend-dialog', 'aria-labelledby': 'amend-form-title' })
  document.body.append(dialog)

  const context = () => {
    const resolution = options.resolution()
    return { phase: resolution.phase, sponsors: resolution.sponsors }
  }
  const delegationName = (id: string | null) => (id ? (options.delegations().find((d) => d.id === id)?.name ?? id) : null)

  /** A refusal or failure, in the server's words (its problem detail). */
  function showProblem(error: unknown): void {
    replace(message, h('div', { class: 'notice error', role: 'alert' }, errorMessage(error)))
  }

  // ---- Highlights in the text -------------------------------------------

  const plugin = amendHighlightPlugin((id) => select(id, { focusText: false, focusPanel: true }))

  function highlightSpecs(): HighlightSpec[] {
    return amendments.filter(highlighted).map((amendment) => ({
      id: amendment.id,
      number: amendment.number,
      status: amendment.status,
      start: amendment.anchor_start as string,
      end: amendment.anchor_end as string,
      label: `${t('amend.number', { n: amendment.number })}: ${wordingIn(amendment, language())}`,
      describedBy: wordingId(amendment.id),
    }))
  }

  function drawHighlights(): void {
    const view = options.editor()
    if (view && !view.isDestroyed) setHighlights(view, highlightSpecs(), selected)
  }

  // ---- The selection the next proposal is anchored to --------------------

  function readSelection(): void {
    const view = options.editor()
    if (!view || view.isDestroyed) return
    const range = selectedRange(view)
    const binding = bindingOf(view)
    const caret = range !== null && range.from === range.to
    const words = range && caret ? caretWord(view, range.from) : range
    const next = words && binding ? anchorSelection(binding, view.state.doc, words.from, words.to) : null
    const previous = selection
    if (typeof next === 'string' || next === null) {
      // A selection outside the text (in this panel) keeps the last one.
      const inside = document.getSelection()?.anchorNode
      if (inside && view.dom.contains(inside)) selection = null
    } else {
      selection = next
      atCursor = caret
    }
    if (previous?.start !== selection?.start || previous?.end !== selection?.end) drawPropose()
  }
  const onSelectionChange = () => readSelection()
  document.addEventListener('selectionchange', onSelectionChange)

  function drawPropose(): void {
    if (!mayPropose(viewer, context())) {
      replace(proposeBox)
      return
    }
    replace(
      proposeBox,
      h(
        'p',
        { class: 'hint amend-selection', 'data-testid': 'amend-selection' },
        selection ? t(atCursor ? 'amend.cursorAfter' : 'amend.selected', { words: selection.text }) : t('amend.selectHint'),
      ),
      h('button', { class: 'button primary wide', type: 'button', 'data-key': 'propose', onclick: () => openForm() }, t('amend.propose')),
    )
  }

  // ---- Proposing ----------------------------------------------------------

  function blocks(): { id: string; name: ParagraphName; text: string }[] {
    const view = options.editor()
    if (!view) return []
    const nodes: { type: string; level: unknown; id: unknown; text: string }[] = []
    view.state.doc.forEach((node) => nodes.push({ type: node.type.name, level: node.attrs.level, id: node.attrs.id, text: node.textContent }))
    const names = paragraphNames(nodes as { type: string; level: string }[])
    return nodes.flatMap((node, index) => (typeof node.id === 'string' ? [{ id: node.id, name: names[index], text: node.text }] : []))
  }

  function openForm(): void {
    readSelection()
    const anchored = selection
    const cursor = atCursor
    const paragraphs = blocks()
    const field = (label: MessageKey, control: HTMLElement, hint?: string) =>
      h('div', { class: 'field' }, h('label', { for: control.id }, t(label)), hint ? h('p', { class: 'hint', id: `${control.id}-hint` }, hint) : null, control)
    const action = h(
      'select',
      { id: 'amend-action', name: 'action' },
      ACTIONS.map((value) => h('option', { value, selected: value === (anchored ? (cursor ? 'insert' : 'replace') : 'add_paragraph') }, t(ACTION_LABEL[value]))),
    )
    const paragraph = h(
      'select',
      { id: 'amend-paragraph', name: 'paragraph' },
      paragraphs.map((p) =>
        h('option', { value: p.id, selected: p.id === anchored?.paragraphId }, `${paragraphLabel(p.name)} — ${p.text.slice(0, 60)}${p.text.length > 60 ? '…' : ''}`),
      ),
    )
    const target = h(
      'select',
      { id: 'amend-target', name: 'after' },
      h('option', { value: 'beginning' }, t('amend.form.beginning')),
      paragraphs.flatMap((p) => {
        const value = reference(p.name)
        return value ? [h('option', { value }, `${paragraphLabel(p.name)} — ${p.text.slice(0, 60)}${p.text.length > 60 ? '…' : ''}`)] : []
      }),
    )
    const oldText = h('input', { id: 'amend-old', name: 'old_text', type: 'text', value: anchored?.text ?? '', 'aria-describedby': 'amend-old-hint' })
    const newText = h('textarea', { id: 'amend-new', name: 'new_text', rows: 3 })
    const rationale = h('textarea', { id: 'amend-rationale', name: 'rationale', rows: 3 })
    const problem = h('div', { class: 'form-message', 'aria-live': 'assertive' })
    const submit = h('button', { class: 'button primary', type: 'submit' }, t('amend.form.submit'))
    const oldField = field('amend.form.words', oldText, t('amend.form.wordsHint'))
    const newField = field('amend.form.newText', newText)
    const paragraphField = field('amend.form.paragraph', paragraph)
    const targetField = field('amend.form.target', target)
    const newLabel = newField.querySelector('label') as HTMLLabelElement
    const sync = () => {
      const chosen = action.value as AmendAction
      oldField.hidden = !isWords(chosen)
      newField.hidden = !needsNewText(chosen)
      paragraphField.hidden = !needsParagraph(chosen)
      targetField.hidden = chosen !== 'move_paragraph'
      newLabel.textContent = t(chosen === 'title' ? 'amend.form.newTitle' : chosen === 'add_paragraph' ? 'amend.form.newParagraph' : chosen === 'insert' ? 'amend.form.inserted' : 'amend.form.newText')
      const label = paragraphField.querySelector('label') as HTMLLabelElement
      label.textContent = t(chosen === 'add_paragraph' ? 'amend.form.after' : 'amend.form.paragraph')
    }
    action.addEventListener('change', sync)
    const form = h(
      'form',
      {
        class: 'form',
        onsubmit: async (event: Event) => {
          event.preventDefault()
          const chosen = action.value as AmendAction
          const proposal: Parameters<typeof amendApi.propose>[1] = { action: chosen }
          if (needsParagraph(chosen)) proposal.paragraph_id = paragraph.value
          if (chosen === 'move_paragraph') proposal.after = target.value
          if (isWords(chosen)) proposal.old_text = oldText.value
          if (needsNewText(chosen)) proposal.new_text = newText.value
          if (rationale.value.trim()) proposal.rationale = rationale.value.trim()
          // The selection's own anchor while it still says the same words;
          // otherwise the server finds the words in the paragraph.
          if (isWords(chosen) && anchored && anchored.paragraphId === paragraph.value && anchored.text === oldText.value) {
            proposal.anchor_start = anchored.start
            proposal.anchor_end = anchored.end
          }
          submit.disabled = true
          replace(problem)
          try {
            const created = await amendApi.propose(resolutionId, proposal)
            dialog.close()
            announce(t('amend.proposed'))
            await load()
            select(created.id, { focusText: false, focusPanel: true })
          } catch (error) {
            replace(problem, h('div', { class: 'notice error', role: 'alert' }, errorMessage(error)))
          } finally {
            submit.disabled = false
          }
        },
      },
      h('h2', { id: 'amend-form-title' }, t('amend.form.title')),
      anchored
        ? h('p', { class: 'amend-quote' }, t(cursor ? 'amend.cursorAfter' : 'amend.selected', { words: anchored.text }))
        : h('p', { class: 'hint' }, t('amend.form.noSelection')),
      field('amend.form.action', action),
      paragraphField,
      targetField,
      oldField,
      newField,
      field('amend.form.rationale', rationale),
      problem,
      h(
        'div',
        { class: 'form-actions' },
        h('button', { class: 'button', type: 'button', onclick: () => dialog.close() }, t('amend.form.cancel')),
        submit,
      ),
    )
    replace(dialog, form)
    sync()
    dialog.showModal()
    ;(anchored ? newText : action).focus()
  }

  // ---- The list -----------------------------------------------------------

  function drawTitle(): void {
    title.textContent = t('amend.title', { count: amendments.length })
    // While the text is drafted there is nothing to amend: no panel unless
    // amendments from an earlier tabling are still there.
    element.hidden = options.resolution().phase === 'drafting' && amendments.length === 0
  }

  function drawFilter(): void {
    const counts = countByFilter(amendments)
    const choices: Filter[] = ['all', 'open', ...STATUSES.filter((status) => counts[status] > 0 || status === filter)]
    const labelOf = (choice: Filter) => (choice === 'all' ? t('amend.filter.all') : choice === 'open' ? t('amend.filter.open') : t(STATUS_LABEL[choice]))
    replace(
      filterBox,
      h(
        'label',
        { class: 'amend-filter-label' },
        h('span', {}, t('amend.filter.label')),
        h(
          'select',
          {
            'data-key': 'filter',
            onchange: (event: Event) => {
              filter = (event.target as HTMLSelectElement).value as Filter
              drawList()
            },
          },
          choices.map((choice) => h('option', { value: choice, selected: choice === filter }, `${labelOf(choice)} (${counts[choice]})`)),
        ),
      ),
    )
    filterBox.hidden = amendments.length === 0
  }

  function drawList(): void {
    keepingFocus(element, () => {
      drawTitle()
      drawFilter()
      if (failed) {
        replace(list, h('li', { class: 'notice error', role: 'alert' }, failed))
        return
      }
      if (!loaded) {
        replace(list, h('li', { class: 'hint' }, t('amend.loading')))
        return
      }
      const shown = filterAmendments(amendments, filter)
      if (shown.length === 0) {
        replace(list, h('li', { class: 'hint' }, amendments.length === 0 ? t('amend.none') : t('amend.noneFiltered')))
        return
      }
      replace(list, shown.map(item))
    })
  }

  function anchorNote(amendment: Amendment): HTMLElement | null {
    if (!isWords(amendment.action) || amendment.status === 'accepted' || amendment.status === 'adopted') return null
    if (amendment.anchor === 'deleted') return h('p', { class: 'amend-anchor amend-anchor-deleted' }, t('amend.anchor.deleted'))
    if (amendment.anchor === 'changed') return h('p', { class: 'amend-anchor' }, t('amend.anchor.changed'))
    return null
  }

  function item(amendment: Amendment): HTMLElement {
    const open = amendment.id === selected
    const proposer = delegationName(amendment.delegation_id)
    const body = h('div', { class: 'amend-detail', id: `amend-detail-${amendment.id}`, hidden: !open })
    if (open) drawDetail(body, amendment)
    return h(
      'li',
      { class: `amend-item${open ? ' selected' : ''}`, 'data-amendment': amendment.id, 'data-status': amendment.status },
      h(
        'button',
        {
          class: 'amend-head',
          type: 'button',
          'aria-expanded': String(open),
          'aria-controls': `amend-detail-${amendment.id}`,
          'data-key': `head-${amendment.id}`,
          onclick: () => (open ? select(null) : select(amendment.id, { focusText: true, focusPanel: false })),
        },
        h('span', { class: 'amend-num' }, t('amend.number', { n: amendment.number })),
        statusBadge(amendment.status),
        proposer ? h('span', { class: 'amend-by' }, proposer) : null,
      ),
      h('p', { class: 'amend-wording', id: wordingId(amendment.id), lang: language() }, wordingIn(amendment, language())),
      anchorNote(amendment),
      body,
    )
  }

  // ---- One amendment: actions, vote, thread ---------------------------------

  function drawDetail(box: HTMLElement, amendment: Amendment): void {
    const full = detail && detail.id === amendment.id ? detail : null
    const ctx = context()
    const moves = movesFor(amendment, viewer, ctx)
    const supporters = amendment.supporters.map((id) => delegationName(id) ?? id)
    const collisions = amendment.collides_with
      .map((id) => amendments.find((other) => other.id === id)?.number)
      .filter((n): n is number => n !== undefined)
      .sort((a, b) => a - b)
    replace(
      box,
      amendment.rationale ? h('div', { class: 'amend-rationale' }, h('h3', {}, t('amend.rationale')), h('p', {}, amendment.rationale)) : null,
      supporters.length ? h('p', { class: 'amend-supporters' }, t('amend.supporters', { list: supporters.join(', ') })) : null,
      collisions.length ? h('p', { class: 'amend-collides' }, t('amend.collides', { list: collisions.join(', ') })) : null,
      moves.length
        ? h(
            'div',
            { class: 'amend-moves', role: 'group', 'aria-label': t('amend.moves') },
            moves.map((move) => moveButton(amendment, move)),
          )
        : null,
      votePanel(amendment),
      thread(amendment, full),
    )
  }

  function moveButton(amendment: Amendment, move: Move): HTMLElement {
    const danger = move.kind === 'status' && (move.to === 'withdrawn' || (move.to === 'tabled' && amendment.status === 'voting'))
    const key = move.kind === 'status' ? `move-${move.to}` : move.kind === 'close' ? 'move-close' : 'move-support'
    return h(
      'button',
      {
        class: `button ${danger ? 'danger' : move.kind === 'support' ? 'quiet' : 'secondary'}`,
        type: 'button',
        'data-key': `${key}-${amendment.id}`,
        'data-move': key,
        onclick: () => void perform(amendment, move),
      },
      t(move.label),
    )
  }

  async function perform(amendment: Amendment, move: Move): Promise<void> {
    if (busy) return
    if (move.kind === 'status' && move.to === 'withdrawn' && !window.confirm(t('amend.confirmWithdraw', { n: amendment.number }))) return
    if (move.kind === 'close' && !window.confirm(t('amend.confirmClose', { n: amendment.number }))) return
    busy = true
    try {
      if (move.kind === 'status') await amendApi.move(amendment.id, move.to)
      else if (move.kind === 'close') await amendApi.closeVote(amendment.id)
      else await amendApi.support(amendment.id, move.on)
      replace(message)
      await load()
      const now = amendments.find((a) => a.id === amendment.id)
      if (now) announce(t('amend.nowStatus', { n: now.number, status: t(STATUS_LABEL[now.status]) }))
    } catch (error) {
      showProblem(error)
    } finally {
      busy = false
    }
  }

  function votePanel(amendment: Amendment): HTMLElement | null {
    const tally = amendment.tally
    const result = resultLine(amendment)
    if (amendment.status !== 'voting' && !result) return null
    const counts = tally ?? { yes: 0, no: 0, abstain: 0, votes: {} }
    const mine = ownVote(amendment, viewer)
    const ballots: Ballot[] = ['yes', 'no', 'abstain']
    return h(
      'section',
      { class: 'amend-vote', 'aria-labelledby': `amend-vote-${amendment.id}` },
      h('h3', { id: `amend-vote-${amendment.id}` }, amendment.status === 'voting' ? t('amend.vote.open') : t('amend.vote.closed')),
      h(
        'p',
        { class: 'amend-tally', 'data-testid': 'tally', role: 'status' },
        ballots.map((ballot) => h('span', { class: `tally-${ballot}` }, `${t(BALLOT_LABEL[ballot])}: `, h('strong', {}, String(counts[ballot])))),
      ),
      result ? h('p', { class: `amend-result ${amendment.vote_result?.adopted ? 'adopted' : 'rejected'}`, 'data-testid': 'result' }, result) : null,
      amendment.status === 'voting' && mayVote(viewer)
        ? h(
            'div',
            { class: 'amend-ballots', role: 'group', 'aria-label': t('amend.vote.cast', { delegation: delegationName(viewer.delegation) ?? '' }) },
            ballots.map((ballot) =>
              h(
                'button',
                {
                  class: `button ballot ballot-${ballot}${mine === ballot ? ' chosen' : ''}`,
                  type: 'button',
                  'aria-pressed': String(mine === ballot),
                  'data-key': `vote-${ballot}-${amendment.id}`,
                  'data-vote': ballot,
                  onclick: () => void vote(amendment, ballot),
                },
                t(BALLOT_LABEL[ballot]),
              ),
            ),
          )
        : null,
      amendment.status === 'voting' && mine ? h('p', { class: 'hint' }, t('amend.vote.yours', { vote: t(BALLOT_LABEL[mine]) })) : null,
    )
  }

  async function vote(amendment: Amendment, ballot: Ballot): Promise<void> {
    try {
      await amendApi.vote(amendment.id, ballot)
      announce(t('amend.vote.recorded', { vote: t(BALLOT_LABEL[ballot]) }))
      await load()
    } catch (error) {
      showProblem(error)
    }
  }

  function thread(amendment: Amendment, full: AmendmentDetail | null): HTMLElement {
    const mayWrite = viewer.role !== 'observer'
    const nodes = full ? threadOf(full.comments) : []
    const name = (account: string) => full?.names[account] ?? t('amend.comment.someone')
    const drawNode = (node: ThreadNode): HTMLElement => {
      const comment = node.comment
      const deleted = comment.deleted_at !== null
      const mine = ownsComment(comment, viewer)
      const isEditing = editing === comment.id
      const editBox = isEditing
        ? commentForm({
            key: `edit-${comment.id}`,
            label: t('amend.comment.editLabel'),
            initial: drafts.get(`edit-${comment.id}`) ?? comment.body,
            submitLabel: t('amend.comment.save'),
            onCancel: () => {
              editing = null
              redrawDetail()
            },
            onSubmit: async (text) => {
              await amendApi.editComment(comment.id, text)
              editing = null
            },
          })
        : null
      return h(
        'li',
        { class: `comment${deleted ? ' deleted' : ''}`, 'data-comment': comment.id },
        h(
          'div',
          { class: 'comment-meta' },
          h('span', { class: 'comment-author' }, name(comment.author)),
          ' ',
          h('time', { datetime: new Date(comment.created_at).toISOString() }, time(comment.created_at)),
          comment.edited_at && !deleted ? h('span', { class: 'comment-edited' }, ` · ${t('amend.comment.edited')}`) : null,
        ),
        isEditing ? editBox : h('p', { class: 'comment-body' }, deleted ? t('amend.comment.deleted') : comment.body),
        !deleted && !isEditing && mayWrite
          ? h(
              'div',
              { class: 'comment-actions' },
              h('button', { class: 'link-button', type: 'button', 'data-key': `reply-${comment.id}`, onclick: () => startReply(comment.id) }, t('amend.comment.reply')),
              mine ? h('button', { class: 'link-button', type: 'button', 'data-key': `editbtn-${comment.id}`, onclick: () => startEdit(comment.id) }, t('amend.comment.edit')) : null,
              mine ? h('button', { class: 'link-button danger', type: 'button', onclick: () => void remove(comment.id) }, t('amend.comment.delete')) : null,
            )
          : null,
        replyTo === comment.id
          ? commentForm({
              key: `reply-${comment.id}`,
              label: t('amend.comment.replyLabel', { name: name(comment.author) }),
              initial: drafts.get(`reply-${comment.id}`) ?? '',
              submitLabel: t('amend.comment.send'),
              onCancel: () => {
                replyTo = null
                redrawDetail()
              },
              onSubmit: async (text) => {
                await amendApi.comment(amendment.id, text, comment.id)
                replyTo = null
              },
            })
          : null,
        node.replies.length ? h('ol', { class: 'replies' }, node.replies.map(drawNode)) : null,
      )
    }
    return h(
      'section',
      { class: 'amend-thread', 'aria-labelledby': `amend-thread-${amendment.id}` },
      h('h3', { id: `amend-thread-${amendment.id}` }, t('amend.comments', { count: full ? full.comments.length : 0 })),
      detailError ? h('p', { class: 'notice error', role: 'alert' }, detailError) : null,
      !full && !detailError ? h('p', { class: 'hint' }, t('amend.loading')) : null,
      full && nodes.length === 0 ? h('p', { class: 'hint' }, t('amend.comment.none')) : null,
      nodes.length ? h('ol', { class: 'comments', 'data-testid': 'comments' }, nodes.map(drawNode)) : null,
      mayWrite
        ? commentForm({
            key: `new-${amendment.id}`,
            label: t('amend.comment.new'),
            initial: drafts.get(`new-${amendment.id}`) ?? '',
            submitLabel: t('amend.comment.send'),
            onSubmit: async (text) => {
              await amendApi.comment(amendment.id, text, null)
            },
          })
        : null,
    )
  }

  function commentForm(spec: {
    key: string
    label: string
    initial: string
    submitLabel: string
    onSubmit: (text: string) => Promise<void>
    onCancel?: () => void
  }): HTMLElement {
    const id = `comment-${spec.key}`
    const area = h('textarea', { id, rows: 2, 'data-key': spec.key, required: true, placeholder: spec.label })
    area.value = spec.initial
    area.addEventListener('input', () => drafts.set(spec.key, area.value))
    const problem = h('div', { class: 'form-message', 'aria-live': 'assertive' })
    const send = h('button', { class: 'button primary', type: 'submit' }, spec.submitLabel)
    return h(
      'form',
      {
        class: 'comment-form',
        onsubmit: async (event: Event) => {
          event.preventDefault()
          const text = area.value.trim()
          if (!text) return
          send.disabled = true
          try {
            await spec.onSubmit(text)
            drafts.delete(spec.key)
            area.value = ''
            await loadDetail()
          } catch (error) {
            replace(problem, h('div', { class: 'notice error', role: 'alert' }, errorMessage(error)))
          } finally {
            send.disabled = false
          }
        },
        onkeydown: (event: KeyboardEvent) => {
          if (event.key === 'Escape' && spec.onCancel) {
            event.preventDefault()
            spec.onCancel()
          }
        },
      },
      h('label', { for: id, class: 'sr-only' }, spec.label),
      area,
      problem,
      h(
        'div',
        { class: 'form-actions' },
        spec.onCancel ? h('button', { class: 'button quiet', type: 'button', onclick: spec.onCancel }, t('amend.form.cancel')) : null,
        send,
      ),
    )
  }

  function startReply(id: string): void {
    replyTo = id
    editing = null
    redrawDetail()
    element.querySelector<HTMLElement>(`[data-key="reply-${CSS.escape(id)}"]`)?.focus()
  }

  function startEdit(id: string): void {
    editing = id
    replyTo = null
    redrawDetail()
    element.querySelector<HTMLElement>(`[data-key="edit-${CSS.escape(id)}"]`)?.focus()
  }

  async function remove(id: string): Promise<void> {
    if (!window.confirm(t('amend.comment.confirmDelete'))) return
    try {
      await amendApi.deleteComment(id)
      await loadDetail()
    } catch (error) {
      showProblem(error)
    }
  }

  function redrawDetail(): void {
    const amendment = amendments.find((a) => a.id === selected)
    const box = selected ? element.querySelector<HTMLElement>(`#amend-detail-${CSS.escape(selected)}`) : null
    if (!amendment || !box) return
    keepingFocus(element, () => drawDetail(box, amendment))
  }

  // ---- Selecting an amendment ----------------------------------------------

  function select(id: string | null, how: { focusText: boolean; focusPanel: boolean } = { focusText: false, focusPanel: false }): void {
    if (id !== selected) {
      selected = id
      detail = null
      detailError = null
      replyTo = null
      editing = null
    }
    drawList()
    drawHighlights()
    if (!id) return
    void loadDetail()
    const view = options.editor()
    const range = view ? highlightRange(view, id) : null
    if (view && range && how.focusText) {
      // Select the words (a screen reader reads them) and bring them into view.
      view.dispatch(view.state.tr.setSelection(TextSelection.create(view.state.doc, range.from, range.to)).scrollIntoView())
      const dom = view.domAtPos(range.from).node
      const target = dom instanceof HTMLElement ? dom : dom.parentElement
      target?.scrollIntoView({ block: 'center', behavior: 'smooth' })
    }
    if (how.focusPanel) {
      const head = element.querySelector<HTMLElement>(`[data-key="head-${CSS.escape(id)}"]`)
      head?.focus({ preventScroll: true })
      head?.scrollIntoView({ block: 'nearest' })
    }
  }

  // ---- The voting list (the chair) -----------------------------------------

  let votingList: Amendment[][] | null = null

  function drawVotingList(): void {
    const open = amendments.some((a) => isOpen(a.status))
    votingBox.hidden = !(viewer.role === 'chair' || viewer.role === 'secretariat') || !open
    const groups = votingList ?? []
    keepingFocus(element, () =>
      replace(
        votingBox,
        h('summary', { 'data-key': 'voting-list' }, t('amend.order.title')),
        h('p', { class: 'hint' }, t('amend.order.intro')),
        votingList === null
          ? h('p', { class: 'hint' }, t('amend.loading'))
          : h(
              'ol',
              { class: 'amend-order-groups' },
              groups.map((group) =>
                h(
                  'li',
                  {},
                  group.map((amendment, index) => [
                    index > 0 ? h('span', { class: 'amend-order-then' }, ` ${t('amend.order.then')} `) : null,
                    h(
                      'button',
                      { class: 'link-button', type: 'button', onclick: () => select(amendment.id, { focusText: true, focusPanel: true }) },
                      t('amend.number', { n: amendment.number }),
                    ),
                  ]),
                  group.length > 1 ? h('span', { class: 'hint' }, ` — ${t('amend.order.collide')}`) : null,
                ),
              ),
            ),
      ),
    )
  }

  async function loadVotingList(): Promise<void> {
    try {
      votingList = await amendApi.votingList(resolutionId)
    } catch (error) {
      showProblem(error)
    }
    if (!destroyed) drawVotingList()
  }

  // ---- Loading, and staying live ---------------------------------------------

  async function load(): Promise<void> {
    try {
      const next = await amendApi.list(resolutionId)
      if (destroyed) return
      amendments = next
      loaded = true
      failed = null
    } catch (error) {
      if (destroyed) return
      failed = errorMessage(error)
    }
    if (selected && !amendments.some((a) => a.id === selected)) selected = null
    drawList()
    drawHighlights()
    drawPropose()
    drawVotingList()
    if (votingBox.open) void loadVotingList()
    if (selected) await loadDetail()
  }

  async function loadDetail(): Promise<void> {
    const id = selected
    if (!id) return
    try {
      const next = await amendApi.get(id)
      if (destroyed || selected !== id) return
      detail = next
      detailError = null
      const index = amendments.findIndex((a) => a.id === id)
      if (index >= 0) amendments[index] = next
    } catch (error) {
      if (destroyed || selected !== id) return
      detailError = errorMessage(error)
    }
    redrawDetail()
  }

  let pending: ReturnType<typeof setTimeout> | null = null
  /** Refetches after a notice, and tells screen readers what others did. */
  function soon(): void {
    if (pending) clearTimeout(pending)
    pending = setTimeout(async () => {
      pending = null
      const before = amendments.map((a) => ({ id: a.id, status: a.status }))
      const thread = detail
      await load()
      const { added, moved } = changesBetween(before, amendments)
      const news = [
        ...added.map((a) => t('amend.live.new', { n: a.number })),
        ...moved.map((a) => t('amend.nowStatus', { n: a.number, status: t(STATUS_LABEL[a.status]) })),
      ]
      if (thread && detail && thread.id === detail.id) {
        for (const comment of newComments(thread.comments, detail.comments, viewer)) {
          news.push(t('amend.live.comment', { name: detail.names[comment.author] ?? t('amend.comment.someone'), n: detail.number }))
        }
      }
      if (news.length) announce(news.join(' '))
    }, 120)
  }

  let events: EventSource | null = null
  function listen(): void {
    if (typeof EventSource === 'undefined') return
    events = new EventSource(`/api/resolutions/${encodeURIComponent(resolutionId)}/events`)
    events.addEventListener('change', (event) => {
      let topic = ''
      try {
        topic = (JSON.parse((event as MessageEvent<string>).data) as { topic?: string }).topic ?? ''
      } catch {
        // Unknown shape: refetch everything.
      }
      if (topic === 'resolution' || topic === 'version') options.onResolutionChange()
      if (topic !== 'resolution') soon()
    })
    events.addEventListener('resync', () => {
      options.onResolutionChange()
      soon()
    })
    // Reconnected after a break: what happened meanwhile was not heard.
    events.addEventListener('open', () => {
      if (loaded) soon()
    })
  }

  drawTitle()
  drawPropose()
  drawList()
  listen()
  void load()

  return {
    element,
    /** The highlight plugin, for the editor. */
    plugin,
    /** The editor has just been made (or made again): draw the highlights in it. */
    editorReady(): void {
      drawHighlights()
    },
    /** The resolution's phase may have changed. */
    resolutionChanged(): void {
      drawPropose()
      drawList()
    },
    relabel(): void {
      drawTitle()
      drawPropose()
      drawList()
      drawVotingList()
      drawHighlights()
    },
    destroy(): void {
      destroyed = true
      if (pending) clearTimeout(pending)
      events?.close()
      document.removeEventListener('selectionchange', onSelectionChange)
      dialog.remove()
    },
  }
}
