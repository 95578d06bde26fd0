import { describe, expect, it } from 'vitest'
import { EditorState, TextSelection, type Command } from 'prosemirror-state'
import type { Node as PMNode } from 'prosemirror-model'
import { schema } from '../src/schema'
import { model } from '../src/model'
import { backspace, currentKind, enter, indent, outdent, setKind } from '../src/commands'
import { blockIdPlugin } from '../src/plugins'

const block = (type: string, text: string, attrs: Record<string, unknown> = {}) =>
  schema.nodes[type].create({ id: `p${String(Math.abs(hash(text + type))).padStart(10, '0').slice(0, 10)}`, ...attrs }, text ? schema.text(text) : null)
function hash(text: string): number {
  let h = 7
  for (const c of text) h = (h * 31 + c.charCodeAt(0)) | 0
  return h
}

function stateOf(blocks: PMNode[], cursorIn = 0, offset = 0): EditorState {
  const doc = schema.nodes.doc.create(null, blocks)
  let pos = 0
  for (let i = 0; i < cursorIn; i++) pos += doc.child(i).nodeSize
  const state = EditorState.create({ doc, plugins: [blockIdPlugin()] })
  return state.apply(state.tr.setSelection(TextSelection.create(doc, pos + 1 + offset)))
}

function run(state: EditorState, command: Command): EditorState {
  let next = state
  command(state, (tr) => (next = state.apply(tr)))
  return next
}

const shape = (state: EditorState) => {
  const out: string[] = []
  state.doc.forEach((node) => out.push(node.type.name === 'subparagraph' ? `sub${node.attrs.level}:${node.textContent}` : `${node.type.name}:${node.textContent}`))
  return out
}
const ids = (state: EditorState) => {
  const out: string[] = []
  state.doc.forEach((node) => out.push(node.attrs.id))
  return out
}

describe('the schema', () => {
  it('is built from docs/document-model.json', () => {
    for (const block of model.blocks) {
      const type = schema.nodes[block.name]
      expect(type, block.name).toBeDefined()
      for (const attribute of block.attributes) expect(type.spec.attrs?.[attribute.name], `${block.name}.${attribute.name}`).toBeDefined()
    }
    expect(Object.keys(schema.marks).sort()).toEqual([...model.marks].sort())
    expect(model.root).toBe('body')
  })
})

describe('editing commands', () => {
  it('switch a paragraph between preambular and operative, keeping its id and text', () => {
    const start = stateOf([block('preamble', 'Recalling'), block('operative', 'Urges')])
    const before = ids(start)
    const operative = run(start, setKind('operative'))
    expect(shape(operative)).toEqual(['operative:Recalling', 'operative:Urges'])
    expect(ids(operative)).toEqual(before)
    expect(shape(run(operative, setKind('preamble')))).toEqual(['preamble:Recalling', 'operative:Urges'])
  })

  it('indent: operative → (a) → (i), and no further', () => {
    let state = stateOf([block('operative', 'Urges'), block('operative', 'to act')], 1)
    state = run(state, indent)
    expect(shape(state)[1]).toBe('sub1:to act')
    expect(currentKind(state)).toBe('sub1')
    state = run(state, indent)
    expect(shape(state)[1]).toBe('sub2:to act')
    state = run(state, indent)
    expect(shape(state)[1]).toBe('sub2:to act')
  })

  it('outdent: (i) → (a) → the kind of the paragraph above', () => {
    let state = stateOf([block('preamble', 'Noting'), block('subparagraph', 'that', { level: '2' })], 1)
    state = run(state, outdent)
    expect(shape(state)[1]).toBe('sub1:that')
    state = run(state, outdent)
    expect(shape(state)[1]).toBe('preamble:that')
  })

  it('outdent at the very top makes a preambular paragraph, after a heading an operative one', () => {
    const top = stateOf([block('subparagraph', 'Recalling', { level: '1' })], 0)
    expect(shape(run(top, outdent))).toEqual(['preamble:Recalling'])
    const afterHeading = stateOf([block('heading', 'I'), block('subparagraph', 'Urges', { level: '1' })], 1)
    expect(shape(run(afterHeading, outdent))[1]).toBe('operative:Urges')
  })

  it('Enter makes a paragraph of the same kind with a fresh id; the first keeps its id', () => {
    const start = stateOf([block('operative', 'Urges')], 0, 5)
    const next = run(start, enter)
    expect(shape(next)).toEqual(['operative:Urges', 'operative:'])
    const [first, second] = ids(next)
    expect(first).toBe(ids(start)[0])
    expect(second).toMatch(/^p[0-9A-Za-z]{10}$/)
    expect(second).not.toBe(first)
  })

  it('Enter at the start of a paragraph moves it down with its id', () => {
    const start = stateOf([block('operative', 'Urges')], 0, 0)
    const next = run(start, enter)
    expect(shape(next)).toEqual(['operative:', 'operative:Urges'])
    expect(ids(next)[1]).toBe(ids(start)[0])
  })

  it('Enter keeps the level of a sub-paragraph, and outdents an empty one', () => {
    let state = stateOf([block('operative', 'Urges'), block('subparagraph', 'to act', { level: '1' })], 1, 6)
    state = run(state, enter)
    expect(shape(state)).toEqual(['operative:Urges', 'sub1:to act', 'sub1:'])
    state = run(state, enter)
    expect(shape(state)).toEqual(['operative:Urges', 'sub1:to act', 'operative:'])
  })

  it('Backspace at the start of a sub-paragraph outdents it', () => {
    const state = stateOf([block('operative', 'Urges'), block('subparagraph', 'to act', { level: '2' })], 1, 0)
    expect(shape(run(state, backspace))[1]).toBe('sub1:to act')
    const middle = stateOf([block('operative', 'Urges'), block('subparagraph', 'to act', { level: '2' })], 1, 2)
    expect(backspace(middle)).toBe(false)
  })

  it('de-duplicates ids brought in by a paste', () => {
    const original = block('operative', 'Urges')
    const start = stateOf([original, block('preamble', 'Recalling')], 1, 9)
    const pasted = start.apply(start.tr.insert(start.doc.content.size, original.copy(original.content)))
    const got = ids(pasted)
    expect(got[0]).toBe(ids(start)[0])
    expect(got[2]).not.toBe(got[0])
    expect(new Set(got).size).toBe(3)
  })
})
