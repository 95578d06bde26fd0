// Editing commands on the body: the kind of a paragraph, indent and outdent,
// Enter and Backspace that respect sub-paragraphs. Pure ProseMirror commands,
// so they can be tested on an EditorState without a browser.
import type { Node as PMNode, NodeType } from 'prosemirror-model'
import { TextSelection, type Command, type EditorState, type Transaction } from 'prosemirror-state'
import { toggleMark } from 'prosemirror-commands'
import { schema } from './schema'

export type Kind = 'preamble' | 'operative' | 'sub1' | 'sub2' | 'heading'

export function kindOf(node: PMNode): Kind {
  switch (node.type.name) {
    case 'operative':
      return 'operative'
    case 'subparagraph':
      return node.attrs.level === '2' ? 'sub2' : 'sub1'
    case 'heading':
      return 'heading'
    default:
      return 'preamble'
  }
}

function typeAndLevel(kind: Kind): { type: NodeType; level: string | null } {
  switch (kind) {
    case 'operative':
      return { type: schema.nodes.operative, level: null }
    case 'sub1':
      return { type: schema.nodes.subparagraph, level: '1' }
    case 'sub2':
      return { type: schema.nodes.subparagraph, level: '2' }
    case 'heading':
      return { type: schema.nodes.heading, level: null }
    default:
      return { type: schema.nodes.preamble, level: null }
  }
}

/** The top-level blocks that the selection touches, with their positions. */
export function selectedBlocks(state: EditorState): { node: PMNode; pos: number; index: number }[] {
  const { from, to } = state.selection
  const blocks: { node: PMNode; pos: number; index: number }[] = []
  let index = 0
  state.doc.forEach((node, pos) => {
    const end = pos + node.nodeSize
    if (end > from && pos <= to) blocks.push({ node, pos, index })
    // A collapsed cursor between two blocks belongs to the one it is in.
    index += 1
  })
  if (blocks.length === 0) {
    const $from = state.selection.$from
    const found = $from.depth >= 1 ? $from.node(1) : null
    if (found) blocks.push({ node: found, pos: $from.before(1), index: $from.index(0) })
  }
  return blocks
}

/** The kind of the block holding the cursor (the first one selected). */
export function currentKind(state: EditorState): Kind | null {
  const $from = state.selection.$from
  if ($from.depth < 1) return null
  return kindOf($from.node(1))
}

function setBlockKind(tr: Transaction, node: PMNode, pos: number, kind: Kind): void {
  const { type, level } = typeAndLevel(kind)
  const attrs: Record<string, unknown> = { id: node.attrs.id ?? null }
  if (type === schema.nodes.subparagraph) attrs.level = level
  if (type === node.type && kindOf(node) === kind) return
  tr.setNodeMarkup(pos, type, attrs, node.marks)
}

/** Makes every selected paragraph of `kind`, keeping its id and its text. */
export function setKind(kind: Kind): Command {
  return (state, dispatch) => {
    const blocks = selectedBlocks(state)
    if (blocks.length === 0) return false
    if (dispatch) {
      const tr = state.tr
      for (const { node, pos } of blocks) setBlockKind(tr, node, pos, kind)
      if (!tr.docChanged) return true
      dispatch(tr.scrollIntoView())
    }
    return true
  }
}

/**
 * The kind a sub-paragraph outdents to: that of the paragraph it belongs to
 * (the nearest one above). With none above, a text begins with its
 * preamble; after a heading, with operative paragraphs.
 */
function parentKind(doc: PMNode, index: number): Kind {
  for (let i = index - 1; i >= 0; i--) {
    const type = doc.child(i).type.name
    if (type === 'preamble') return 'preamble'
    if (type === 'operative') return 'operative'
    if (type === 'heading') return 'operative'
  }
  return 'preamble'
}

function indented(kind: Kind): Kind | null {
  if (kind === 'preamble' || kind === 'operative') return 'sub1'
  if (kind === 'sub1') return 'sub2'
  return null
}

/** Indent: paragraph → (a) → (i). Always handled, so Tab never leaves the text unexpectedly. */
export const indent: Command = (state, dispatch) => {
  const blocks = selectedBlocks(state)
  if (dispatch) {
    const tr = state.tr
    for (const { node, pos } of blocks) {
      const next = indented(kindOf(node))
      if (next) setBlockKind(tr, node, pos, next)
    }
    if (tr.docChanged) dispatch(tr.scrollIntoView())
  }
  return true
}

/** Outdent: (i) → (a) → the paragraph it belongs to. */
export const outdent: Command = (state, dispatch) => {
  const blocks = selectedBlocks(state)
  if (dispatch) {
    const tr = state.tr
    for (const { node, pos, index } of blocks) {
      const kind = kindOf(node)
      if (kind === 'sub2') setBlockKind(tr, node, pos, 'sub1')
      else if (kind === 'sub1') setBlockKind(tr, node, pos, parentKind(state.doc, index))
    }
    if (tr.docChanged) dispatch(tr.scrollIntoView())
  }
  return true
}

/** Enter: a new paragraph of the same kind; on an empty sub-paragraph, outdent it instead. */
export const enter: Command = (state, dispatch, view) => {
  if (!(state.selection instanceof TextSelection)) return false
  const { $from, empty } = state.selection
  if (empty && $from.depth === 1 && $from.parent.type.name === 'subparagraph' && $from.parent.content.size === 0) {
    return outdent(state, dispatch, view)
  }
  // The new block copies the kind and attributes, id included: the id
  // plugin then gives one of the two halves a fresh id. (ProseMirror's
  // splitBlock would turn the first half into the default block type when
  // the cursor is at the start.)
  if (dispatch) {
    const tr = state.tr
    if (!empty) tr.deleteSelection()
    const $pos = tr.selection.$from
    if ($pos.depth !== 1) return false
    const parent = $pos.parent
    tr.split($pos.pos, 1, [{ type: parent.type, attrs: { ...parent.attrs } }])
    const marks = state.storedMarks ?? ($pos.parentOffset > 0 ? $pos.marks() : null)
    if (marks) tr.ensureMarks(marks)
    dispatch(tr.scrollIntoView())
  }
  return $from.depth === 1
}

/** Backspace at the very start of a sub-paragraph outdents it, as in a list. */
export const backspace: Command = (state, dispatch, view) => {
  const { $from, empty } = state.selection
  if (!empty || $from.depth !== 1 || $from.parentOffset !== 0) return false
  if ($from.parent.type.name !== 'subparagraph') return false
  return outdent(state, dispatch, view)
}

export const toggleItalic: Command = toggleMark(schema.marks.italic)
export const toggleBold: Command = toggleMark(schema.marks.bold)
