import { describe, expect, it } from 'vitest'
import {
  changesBetween,
  countByFilter,
  filterAmendments,
  highlighted,
  mayPropose,
  newComments,
  movesFor,
  ownVote,
  ownsComment,
  paragraphNames,
  reference,
  threadOf,
  wordBefore,
  wordingIn,
  type Amendment,
  type Comment,
  type Viewer,
} from '../src/amend'
import { setLanguage } from '../src/i18n'
import { paragraphLabel, resultLine } from '../src/screens/amendments'

function amendment(number: number, status: Amendment['status'], extra: Partial<Amendment> = {}): Amendment {
  return {
    id: `a${number}`,
    resolution_id: 'r',
    serial: number,
    author: 'ana',
    delegation_id: 'mx',
    action: 'replace',
    paragraph_id: 'op1',
    old_text: 'review',
    new_text: 'review and harmonize',
    rationale: null,
    status,
    vote_result: null,
    supporters: [],
    created_at: 0,
    updated_at: 0,
    number,
    wording: { en: `In operative paragraph 1 (${number})`, es: `En el párrafo 1 (${number})` },
    reference: 'operative 1',
    anchor: 'intact',
    collides_with: [],
    tally: null,
    anchor_start: 'AA==',
    anchor_end: 'AA==',
    ...extra,
  }
}

const chair: Viewer = { role: 'chair', account: 'chair', delegation: null }
const author: Viewer = { role: 'delegate', account: 'ana', delegation: 'mx' }
const sponsor: Viewer = { role: 'delegate', account: 'sol', delegation: 'br' }
const other: Viewer = { role: 'delegate', account: 'rosa', delegation: 'pe' }
const observer: Viewer = { role: 'observer', account: 'press', delegation: null }
const tabled = { phase: 'tabled', sponsors: ['br'] }

const labels = (moves: ReturnType<typeof movesFor>) => moves.map((move) => move.label)

describe('amendment rules in the browser', () => {
  it('filter by status and keep text order', () => {
    const list = [amendment(3, 'voting'), amendment(1, 'adopted'), amendment(2, 'proposed'), amendment(4, 'withdrawn')]
    expect(filterAmendments(list, 'all').map((a) => a.number)).toEqual([1, 2, 3, 4])
    expect(filterAmendments(list, 'open').map((a) => a.number)).toEqual([2, 3])
    expect(filterAmendments(list, 'adopted').map((a) => a.number)).toEqual([1])
    const counts = countByFilter(list)
    expect([counts.all, counts.open, counts.voting, counts.rejected]).toEqual([4, 2, 1, 0])
  })

  it('show each person only the moves the server allows them', () => {
    const proposed = amendment(1, 'proposed')
    expect(labels(movesFor(proposed, chair, tabled))).toEqual(['amend.move.table'])
    expect(labels(movesFor(proposed, author, tabled))).toEqual(['amend.move.withdraw', 'amend.move.support'])
    expect(labels(movesFor(proposed, observer, tabled))).toEqual([])
    const onTable = amendment(1, 'tabled')
    expect(labels(movesFor(onTable, chair, tabled))).toEqual(['amend.move.openVote'])
    expect(labels(movesFor(onTable, sponsor, tabled))).toEqual(['amend.move.accept', 'amend.move.support'])
    expect(labels(movesFor({ ...onTable, supporters: ['pe'] }, other, tabled))).toEqual(['amend.move.unsupport'])
    // Accepting and opening a vote need a tabled resolution.
    expect(labels(movesFor(onTable, sponsor, { phase: 'drafting', sponsors: ['br'] }))).toEqual(['amend.move.support'])
    const voting = amendment(1, 'voting')
    expect(labels(movesFor(voting, chair, tabled))).toEqual(['amend.move.closeVote', 'amend.move.cancelVote'])
    expect(labels(movesFor(voting, author, tabled))).toEqual(['amend.move.support'])
    expect(movesFor(amendment(1, 'adopted'), chair, tabled)).toEqual([])
  })

  it('know who may propose and how a delegation voted', () => {
    expect(mayPropose(author, tabled)).toBe(true)
    expect(mayPropose(chair, tabled)).toBe(true)
    expect(mayPropose(observer, tabled)).toBe(false)
    expect(mayPropose(author, { phase: 'drafting', sponsors: [] })).toBe(false)
    expect(mayPropose({ role: 'delegate', account: 'x', delegation: null }, tabled)).toBe(false)
    const voting = amendment(1, 'voting', { tally: { yes: 1, no: 0, abstain: 0, votes: { mx: 'yes' } } })
    expect(ownVote(voting, author)).toBe('yes')
    expect(ownVote(voting, other)).toBeNull()
    expect(ownVote(voting, chair)).toBeNull()
  })

  it('highlight only open amendments with an anchor', () => {
    expect(highlighted(amendment(1, 'tabled'))).toBe(true)
    expect(highlighted(amendment(1, 'adopted'))).toBe(false)
    expect(highlighted(amendment(1, 'tabled', { anchor_start: null, anchor_end: null }))).toBe(false)
  })

  it('word it in the language of the page, English otherwise', () => {
    expect(wordingIn(amendment(2, 'tabled'), 'es')).toBe('En el párrafo 1 (2)')
    expect(wordingIn(amendment(2, 'tabled'), 'pt')).toBe('In operative paragraph 1 (2)')
  })

  it('build a thread of replies, oldest first, losing nothing', () => {
    const comment = (id: string, at: number, parent: string | null = null, author = 'ana'): Comment => ({
      id,
      amendment_id: 'a1',
      parent_id: parent,
      author,
      body: id,
      created_at: at,
      edited_at: null,
      deleted_at: null,
    })
    const thread = threadOf([comment('c3', 3, 'c1'), comment('c1', 1), comment('c2', 2), comment('c4', 4, 'gone')])
    expect(thread.map((n) => n.comment.id)).toEqual(['c1', 'c2', 'c4'])
    expect(thread[0].replies.map((n) => n.comment.id)).toEqual(['c3'])
    expect(ownsComment(comment('c1', 1), author)).toBe(true)
    expect(ownsComment(comment('c1', 1), other)).toBe(false)
    expect(ownsComment({ ...comment('c1', 1), deleted_at: 5 }, author)).toBe(false)
  })

  it('names paragraphs as delegates count them', () => {
    const names = paragraphNames([
      { type: 'preamble' },
      { type: 'preamble' },
      { type: 'operative' },
      { type: 'operative' },
      { type: 'subparagraph', level: '1' },
      { type: 'subparagraph', level: '2' },
      { type: 'heading' },
    ])
    expect(names.map((n) => `${n.kind} ${n.number}`)).toEqual([
      'preamble 1',
      'preamble 2',
      'operative 1',
      'operative 2',
      'operative 2 (a)',
      'operative 2 (a) (i)',
      'heading ',
    ])
    expect(names.map(reference)).toEqual(['preamble 1', 'preamble 2', 'operative 1', 'operative 2', 'operative 2 (a)', 'operative 2 (a) (i)', null])
    // A sub-paragraph of a preambular paragraph is named after it, as the server does.
    expect(paragraphNames([{ type: 'preamble' }, { type: 'subparagraph', level: '1' }]).map(reference)).toEqual(['preamble 1', 'preamble 1 (a)'])
    setLanguage('fr')
    expect(paragraphLabel(names[1])).toBe('Alinéa 2 du préambule')
    expect(resultLine({ status: 'adopted', vote_result: { yes: 3, no: 1, abstain: 0, delegations: 5, rule: 'majority_of_votes_cast', adopted: true } })).toBe(
      'Adopté : 3 pour, 1 contre, 0 abstentions',
    )
    setLanguage('en')
    expect(paragraphLabel(names[4])).toBe('Operative paragraph 2 (a)')
  })
})

describe('insert at the cursor', () => {
  const text = 'Urges parliaments to review  national legislation;'
  const word = (offset: number) => {
    const range = wordBefore(text, offset)
    return range ? text.slice(range[0], range[1]) : null
  }
  it('anchors the word the cursor follows', () => {
    expect(word(text.indexOf('review') + 'review'.length)).toBe('review')
    expect(word(text.indexOf('national'))).toBe('review')
    expect(word(text.indexOf('review') + 2)).toBe('review')
    expect(word(text.length)).toBe('legislation;')
    expect(word(0)).toBe('Urges')
    expect(wordBefore('   ', 2)).toBeNull()
  })
})

describe('what others did, for screen readers', () => {
  it('finds new amendments, moved ones, and others\' new comments', () => {
    const before = [amendment(1, 'proposed'), amendment(2, 'tabled')]
    const after = [amendment(1, 'tabled'), amendment(2, 'tabled'), amendment(3, 'proposed')]
    const { added, moved } = changesBetween(before, after)
    expect(added.map((a) => a.number)).toEqual([3])
    expect(moved.map((a) => a.number)).toEqual([1])
    const comment = (id: string, author: string): Comment => ({ id, amendment_id: 'a1', parent_id: null, author, body: id, created_at: 0, edited_at: null, deleted_at: null })
    expect(newComments([comment('c1', 'sol')], [comment('c1', 'sol'), comment('c2', 'ana'), comment('c3', 'sol')], author).map((c) => c.id)).toEqual(['c3'])
  })
})
