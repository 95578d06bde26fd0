import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import type { Node as PMNode } from 'prosemirror-model'
import { schema } from '../src/schema'
import { model } from '../src/model'
import { anchorRange, anchorSelection, decodePosition, type Binding } from '../src/anchors'
import { segments } from '../src/amend-highlight'

/** A body in a Y.Doc, and the ProseMirror document y-prosemirror would draw from it. */
function setUp(paragraphs: [string, string, string][]) {
  const doc = new Y.Doc()
  const body = doc.getXmlFragment(model.root)
  body.insert(
    0,
    paragraphs.map(([type, id, text]) => {
      const element = new Y.XmlElement(type)
      element.setAttribute('id', id)
      element.insert(0, [new Y.XmlText(text)])
      return element
    }),
  )
  const mapping = new Map<Y.AbstractType<unknown>, PMNode>()
  const draw = (): PMNode => {
    mapping.clear()
    const blocks = body.toArray().map((element) => {
      const el = element as Y.XmlElement
      const text = (el.get(0) as Y.XmlText).toString()
      const node = schema.nodes[el.nodeName].create({ id: el.getAttribute('id') }, text ? schema.text(text) : null)
      mapping.set(el as Y.AbstractType<unknown>, node)
      return node
    })
    return schema.nodes.doc.create(null, blocks)
  }
  const binding: Binding = { doc, type: body, mapping: mapping as Binding['mapping'] }
  const textOf = (index: number) => (body.get(index) as Y.XmlElement).get(0) as Y.XmlText
  return { doc, body, binding, draw, textOf }
}

/** The ProseMirror position of `words` in the document (first match). */
function find(pm: PMNode, words: string): { from: number; to: number } {
  let found: { from: number; to: number } | null = null
  pm.descendants((node, pos) => {
    if (found || !node.isText) return
    const at = node.text!.indexOf(words)
    if (at >= 0) found = { from: pos + at, to: pos + at + words.length }
  })
  if (!found) throw new Error(`no ${words}`)
  return found
}

const TEXT: [string, string, string][] = [
  ['preamble', 'pre1', 'Recalling the Palermo Protocol,'],
  ['operative', 'op1', 'Urges parliaments to review national legislation;'],
  ['operative', 'op2', 'Decides to remain seized of the matter.'],
]

describe('anchors', () => {
  it('turn a selection into relative positions and back', () => {
    const { binding, draw } = setUp(TEXT)
    const pm = draw()
    const { from, to } = find(pm, 'review national')
    const anchor = anchorSelection(binding, pm, from, to)
    if (typeof anchor === 'string') throw new Error(anchor)
    expect(anchor.paragraphId).toBe('op1')
    expect(anchor.text).toBe('review national')
    // The server's v1 encoding: base64 of Y.encodeRelativePosition, with the
    // end sticking to the last character (assoc -1).
    expect(decodePosition(anchor.start)?.assoc).toBe(0)
    expect(decodePosition(anchor.end)?.assoc).toBe(-1)
    expect(anchorRange(binding, pm, anchor.start, anchor.end)).toEqual({ from, to })
  })

  it('follow the words while the text changes around them', () => {
    const { binding, draw, textOf, body } = setUp(TEXT)
    let pm = draw()
    const selected = find(pm, 'review')
    const anchor = anchorSelection(binding, pm, selected.from, selected.to)
    if (typeof anchor === 'string') throw new Error(anchor)
    // Words typed before, right before and right after the anchored words
    // stay outside them; a paragraph inserted above moves them down.
    textOf(1).insert(0, 'Strongly ')
    textOf(1).insert('Strongly Urges parliaments to '.length, 'carefully ')
    textOf(1).insert('Strongly Urges parliaments to carefully review'.length, ' and harmonize')
    const added = new Y.XmlElement('preamble')
    added.setAttribute('id', 'pre0')
    added.insert(0, [new Y.XmlText('Noting with concern the rise in trafficking,')])
    body.insert(0, [added])
    pm = draw()
    const range = anchorRange(binding, pm, anchor.start, anchor.end)
    expect(range).not.toBeNull()
    expect(pm.textBetween(range!.from, range!.to)).toBe('review')
    expect(range).toEqual(find(pm, 'review'))
  })

  it('are never misplaced: deleted words or paragraphs give no range', () => {
    const { binding, draw, textOf, body } = setUp(TEXT)
    let pm = draw()
    const words = find(pm, 'Palermo')
    const a = anchorSelection(binding, pm, words.from, words.to)
    const seized = find(pm, 'remain seized')
    const b = anchorSelection(binding, pm, seized.from, seized.to)
    if (typeof a === 'string' || typeof b === 'string') throw new Error('anchors')
    textOf(0).delete('Recalling the '.length, 'Palermo '.length)
    body.delete(2, 1)
    pm = draw()
    expect(anchorRange(binding, pm, a.start, a.end)).toBeNull()
    expect(anchorRange(binding, pm, b.start, b.end)).toBeNull()
  })

  it('refuse selections that are empty or span paragraphs', () => {
    const { binding, draw } = setUp(TEXT)
    const pm = draw()
    const first = find(pm, 'Palermo')
    const second = find(pm, 'Urges')
    expect(anchorSelection(binding, pm, first.from, first.from)).toBe('empty')
    expect(anchorSelection(binding, pm, first.from, second.to)).toBe('paragraphs')
    expect(anchorRange(binding, pm, 'not base64!', '')).toBeNull()
  })
})

describe('overlapping highlights', () => {
  const spec = (id: string, number: number, status = 'tabled') => ({ id, number, status, start: '', end: '', label: id, describedBy: `w-${id}` })
  it('are cut into runs that name every amendment over them', () => {
    const runs = segments([
      { spec: spec('b', 2), from: 15, to: 25 },
      { spec: spec('a', 1), from: 10, to: 20 },
      { spec: spec('c', 3), from: 30, to: 35 },
    ])
    expect(runs.map((run) => [run.from, run.to, run.specs.map((s) => s.id).join('')])).toEqual([
      [10, 15, 'a'],
      [15, 20, 'ab'],
      [20, 25, 'b'],
      [30, 35, 'c'],
    ])
  })
})
