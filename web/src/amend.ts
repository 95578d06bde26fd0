// Amendments as the browser sees them: the server's JSON shapes, its calls,
// and the pure rules the panel draws from (who may do what, filters,
// threads). The server decides; these only choose which buttons to show.
import { request, type Role } from './api'
import type { MessageKey } from './i18n'
import { letter, roman } from './numbering'

export type AmendStatus = 'proposed' | 'tabled' | 'voting' | 'accepted' | 'adopted' | 'rejected' | 'withdrawn' | 'fallen'
export type AmendAction = 'replace' | 'insert' | 'delete' | 'add_paragraph' | 'delete_paragraph' | 'move_paragraph' | 'title'
export type Ballot = 'yes' | 'no' | 'abstain'
export type AnchorState = 'intact' | 'changed' | 'deleted'

export interface VoteResult {
  yes: number
  no: number
  abstain: number
  delegations: number
  rule: string
  adopted: boolean
}

export interface Tally {
  yes: number
  no: number
  abstain: number
  /** Delegation id → its vote. */
  votes: Record<string, Ballot>
}

/** `GET /api/resolutions/{id}/amendments`: one amendment as people read it. */
export interface Amendment {
  id: string
  resolution_id: string
  serial: number
  author: string
  delegation_id: string | null
  action: AmendAction
  paragraph_id: string | null
  old_text: string | null
  new_text: string | null
  rationale: string | null
  status: AmendStatus
  vote_result: VoteResult | null
  supporters: string[]
  created_at: number
  updated_at: number
  /** In order of position in the text, from 1. */
  number: number
  /** The formal wording in en, es, fr and pt. */
  wording: Record<string, string>
  reference: string | null
  anchor: AnchorState
  collides_with: string[]
  tally: Tally | null
  /** Base64 Yjs relative positions of the words it changes (word actions). */
  anchor_start: string | null
  anchor_end: string | null
}

export interface Comment {
  id: string
  amendment_id: string | null
  parent_id: string | null
  author: string
  body: string
  created_at: number
  edited_at: number | null
  deleted_at: number | null
}

/** `GET /api/amendments/{id}`: with its thread and the names in it. */
export interface AmendmentDetail extends Amendment {
  comments: Comment[]
  names: Record<string, string>
}

export interface Proposal {
  action: AmendAction
  paragraph_id?: string
  /** For a move: the paragraph it is to follow ("operative 2"), or "beginning". */
  after?: string
  old_text?: string
  new_text?: string
  rationale?: string
  anchor_start?: string
  anchor_end?: string
}

const path = encodeURIComponent

export const amendApi = {
  list: (resolution: string) => request<Amendment[]>('GET', `/api/resolutions/${path(resolution)}/amendments`),
  get: (id: string) => request<AmendmentDetail>('GET', `/api/amendments/${path(id)}`),
  propose: (resolution: string, proposal: Proposal) =>
    request<{ id: string }>('POST', `/api/resolutions/${path(resolution)}/amendments`, proposal),
  move: (id: string, status: AmendStatus) => request<Amendment>('POST', `/api/amendments/${path(id)}/status`, { status }),
  vote: (id: string, vote: Ballot) => request<void>('POST', `/api/amendments/${path(id)}/votes`, { vote }),
  closeVote: (id: string) => request<Amendment>('POST', `/api/amendments/${path(id)}/close-vote`, {}),
  support: (id: string, on: boolean) => request<void>(on ? 'POST' : 'DELETE', `/api/amendments/${path(id)}/supporters`),
  comment: (id: string, body: string, parentId: string | null) =>
    request<{ id: string }>('POST', `/api/amendments/${path(id)}/comments`, parentId ? { body, parent_id: parentId } : { body }),
  editComment: (id: string, body: string) => request<void>('PATCH', `/api/comments/${path(id)}`, { body }),
  deleteComment: (id: string) => request<void>('DELETE', `/api/comments/${path(id)}`),
  votingList: (resolution: string) => request<Amendment[][]>('GET', `/api/resolutions/${path(resolution)}/voting-list`),
}

export const STATUSES: AmendStatus[] = ['proposed', 'tabled', 'voting', 'accepted', 'adopted', 'rejected', 'withdrawn', 'fallen']

export const STATUS_LABEL: Record<AmendStatus, MessageKey> = {
  proposed: 'amend.status.proposed',
  tabled: 'amend.status.tabled',
  voting: 'amend.status.voting',
  accepted: 'amend.status.accepted',
  adopted: 'amend.status.adopted',
  rejected: 'amend.status.rejected',
  withdrawn: 'amend.status.withdrawn',
  fallen: 'amend.status.fallen',
}

export const ACTION_LABEL: Record<AmendAction, MessageKey> = {
  replace: 'amend.action.replace',
  insert: 'amend.action.insert',
  delete: 'amend.action.delete',
  add_paragraph: 'amend.action.add_paragraph',
  delete_paragraph: 'amend.action.delete_paragraph',
  move_paragraph: 'amend.action.move_paragraph',
  title: 'amend.action.title',
}

export const BALLOT_LABEL: Record<Ballot, MessageKey> = {
  yes: 'amend.vote.yes',
  no: 'amend.vote.no',
  abstain: 'amend.vote.abstain',
}

/** Still to be decided: proposed, tabled or put to the vote. */
export function isOpen(status: AmendStatus): boolean {
  return status === 'proposed' || status === 'tabled' || status === 'voting'
}

/** Whether the action changes words (and is anchored to them). */
export function isWords(action: AmendAction): boolean {
  return action === 'replace' || action === 'insert' || action === 'delete'
}

/** Whether the proposal needs new words (a new paragraph, a new title). */
export function needsNewText(action: AmendAction): boolean {
  return action === 'replace' || action === 'insert' || action === 'add_paragraph' || action === 'title'
}

/** Whether the proposal names a paragraph (all but the title). */
export function needsParagraph(action: AmendAction): boolean {
  return action !== 'title'
}

export type Filter = 'all' | 'open' | AmendStatus

/** The amendments a filter keeps, in the server's (text) order, by number. */
export function filterAmendments(amendments: readonly Amendment[], filter: Filter): Amendment[] {
  return amendments
    .filter((amendment) => filter === 'all' || (filter === 'open' ? isOpen(amendment.status) : amendment.status === filter))
    .sort((a, b) => a.number - b.number)
}

/** How many amendments each filter would show. */
export function countByFilter(amendments: readonly Amendment[]): Record<Filter, number> {
  const counts = { all: amendments.length, open: 0 } as Record<Filter, number>
  for (const status of STATUSES) counts[status] = 0
  for (const amendment of amendments) {
    counts[amendment.status] += 1
    if (isOpen(amendment.status)) counts.open += 1
  }
  return counts
}

/** The formal wording in `language`, or English if the server has none in it. */
export function wordingIn(amendment: Pick<Amendment, 'wording'>, language: string): string {
  return amendment.wording[language] ?? amendment.wording.en ?? ''
}

/** Who is looking, as the rules need them. */
export interface Viewer {
  role: Role
  account: string
  delegation: string | null
}

/** The resolution, as the rules need it. */
export interface Context {
  phase: string
  sponsors: readonly string[]
}

export type Move =
  | { kind: 'status'; to: AmendStatus; label: MessageKey }
  | { kind: 'close'; label: MessageKey }
  | { kind: 'support'; on: boolean; label: MessageKey }

const presides = (viewer: Viewer) => viewer.role === 'chair' || viewer.role === 'secretariat'
const delegation = (viewer: Viewer) => (viewer.role === 'delegate' ? viewer.delegation : null)

/** May this person propose amendments now? (The server's may_propose.) */
export function mayPropose(viewer: Viewer, resolution: Context): boolean {
  if (resolution.phase !== 'tabled') return false
  if (viewer.role === 'observer') return false
  return viewer.role !== 'delegate' || viewer.delegation !== null
}

/** May this person vote for a delegation? */
export function mayVote(viewer: Viewer): boolean {
  return delegation(viewer) !== null
}

/**
 * The lifecycle buttons this person may press on `amendment` (the server's
 * check_move and close_vote), in the order they are shown.
 */
export function movesFor(amendment: Pick<Amendment, 'status' | 'author' | 'supporters'>, viewer: Viewer, resolution: Context): Move[] {
  const moves: Move[] = []
  const chair = presides(viewer)
  const author = amendment.author === viewer.account
  const sponsor = (viewer.role === 'delegate' && viewer.delegation !== null && resolution.sponsors.includes(viewer.delegation)) || viewer.role === 'secretariat'
  const tabled = resolution.phase === 'tabled'
  switch (amendment.status) {
    case 'proposed':
      if (chair) moves.push({ kind: 'status', to: 'tabled', label: 'amend.move.table' })
      break
    case 'tabled':
      if (chair && tabled) moves.push({ kind: 'status', to: 'voting', label: 'amend.move.openVote' })
      if (sponsor && tabled) moves.push({ kind: 'status', to: 'accepted', label: 'amend.move.accept' })
      break
    case 'voting':
      if (chair) {
        moves.push({ kind: 'close', label: 'amend.move.closeVote' })
        moves.push({ kind: 'status', to: 'tabled', label: 'amend.move.cancelVote' })
      }
      break
    default:
      break
  }
  if ((amendment.status === 'proposed' || amendment.status === 'tabled') && (author || viewer.role === 'secretariat')) {
    moves.push({ kind: 'status', to: 'withdrawn', label: 'amend.move.withdraw' })
  }
  const own = delegation(viewer)
  if (own !== null && isOpen(amendment.status)) {
    const on = !amendment.supporters.includes(own)
    moves.push({ kind: 'support', on, label: on ? 'amend.move.support' : 'amend.move.unsupport' })
  }
  return moves
}

/** A delegation's current vote on an amendment under vote, if it has voted. */
export function ownVote(amendment: Pick<Amendment, 'tally'>, viewer: Viewer): Ballot | null {
  const own = delegation(viewer)
  return own === null ? null : (amendment.tally?.votes[own] ?? null)
}

export interface ThreadNode {
  comment: Comment
  replies: ThreadNode[]
}

/**
 * A flat list of comments as a thread: each with its replies, oldest first.
 * A reply whose parent is missing is shown at the top level, never lost.
 */
export function threadOf(comments: readonly Comment[]): ThreadNode[] {
  const nodes = new Map<string, ThreadNode>()
  for (const comment of comments) nodes.set(comment.id, { comment, replies: [] })
  const roots: ThreadNode[] = []
  const byTime = [...comments].sort((a, b) => a.created_at - b.created_at || a.id.localeCompare(b.id))
  for (const comment of byTime) {
    const node = nodes.get(comment.id) as ThreadNode
    const parent = comment.parent_id ? nodes.get(comment.parent_id) : undefined
    if (parent && parent !== node) parent.replies.push(node)
    else roots.push(node)
  }
  return roots
}

/** Whether the viewer may edit or delete a comment: their own, not yet deleted. */
export function ownsComment(comment: Comment, viewer: Viewer): boolean {
  return comment.author === viewer.account && comment.deleted_at === null
}

/** Only open amendments with words still in the text are highlighted. */
export function highlighted(amendment: Pick<Amendment, 'status' | 'anchor_start' | 'anchor_end'>): boolean {
  return isOpen(amendment.status) && amendment.anchor_start !== null && amendment.anchor_end !== null
}

/** A paragraph as the proposal form names it: its kind and number ("3 (b)"). */
export interface ParagraphName {
  kind: 'preamble' | 'operative' | 'heading'
  number: string
}

/**
 * The names of the body's paragraphs, as delegates (and the server's
 * references) count them: preambular and operative paragraphs separately,
 * a sub-paragraph under the paragraph before it ("operative 2 (a) (i)").
 */
export function paragraphNames(blocks: readonly { type: string; level?: string | number | null }[]): ParagraphName[] {
  let preamble = 0
  let operative = 0
  let level1 = 0
  let level2 = 0
  let parent: ParagraphName | null = null
  return blocks.map((block): ParagraphName => {
    switch (block.type) {
      case 'preamble':
        preamble += 1
        level1 = 0
        level2 = 0
        parent = { kind: 'preamble', number: String(preamble) }
        return parent
      case 'operative':
        operative += 1
        level1 = 0
        level2 = 0
        parent = { kind: 'operative', number: String(operative) }
        return parent
      case 'subparagraph': {
        const base = parent ?? { kind: 'operative', number: '?' }
        if (String(block.level) === '2') {
          level2 += 1
          const letterPart = level1 > 0 ? ` (${letter(level1)})` : ''
          return { kind: base.kind, number: `${base.number}${letterPart} (${roman(level2)})` }
        }
        level1 += 1
        level2 = 0
        return { kind: base.kind, number: `${base.number} (${letter(level1)})` }
      }
      default:
        return { kind: 'heading', number: '' }
    }
  })
}

/** How the server names a paragraph in a proposal: "operative 2 (a)", "preamble 3". */
export function reference(name: ParagraphName): string | null {
  return name.kind === 'heading' ? null : `${name.kind} ${name.number}`
}

/**
 * The word a cursor at `offset` in `text` follows, as [start, end): words
 * are inserted after it ("insert at the cursor"). A cursor inside a word
 * takes the whole word; one after spaces, the word before them; one at
 * the very start, the first word. Null when there is no word.
 */
export function wordBefore(text: string, offset: number): [number, number] | null {
  let end = Math.max(0, Math.min(offset, text.length))
  if (end > 0 && /\s/.test(text[end - 1])) {
    while (end > 0 && /\s/.test(text[end - 1])) end -= 1
  } else {
    while (end < text.length && !/\s/.test(text[end])) end += 1
  }
  let start = end
  while (start > 0 && !/\s/.test(text[start - 1])) start -= 1
  return end > start ? [start, end] : null
}

/** What a refetch brought: amendments new to this page, and those whose status moved. */
export function changesBetween(
  before: readonly Pick<Amendment, 'id' | 'status'>[],
  after: readonly Amendment[],
): { added: Amendment[]; moved: Amendment[] } {
  const previous = new Map(before.map((a) => [a.id, a.status]))
  return {
    added: after.filter((a) => !previous.has(a.id)),
    moved: after.filter((a) => previous.has(a.id) && previous.get(a.id) !== a.status),
  }
}

/** Comments in `after` that `before` did not have, written by others. */
export function newComments(before: readonly Comment[], after: readonly Comment[], viewer: Viewer): Comment[] {
  const seen = new Set(before.map((c) => c.id))
  return after.filter((c) => !seen.has(c.id) && c.author !== viewer.account && c.deleted_at === null)
}
