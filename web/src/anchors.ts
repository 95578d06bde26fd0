// Anchors: the words an amendment changes, named by their CRDT identity
// (Yjs relative positions) so that they stay on the same words while the
// text changes around them. The server makes and reads the same positions
// (yrs sticky indexes, v1 encoding, sent as base64).
import * as Y from 'yjs'
import { fromBase64, toBase64 } from 'lib0/buffer'
import type { Node as PMNode } from 'prosemirror-model'

/**
 * What links the ProseMirror document to the Y.Doc: y-prosemirror's
 * binding (its mapping holds, for each Y element, the node drawn from it).
 */
export interface Binding {
  doc: Y.Doc
  type: Y.XmlFragment
  mapping: Map<Y.AbstractType<unknown>, PMNode | PMNode[]>
}

/** A selection turned into an anchor, with what the server checks it against. */
export interface SelectionAnchor {
  /** The paragraph's stable id. */
  paragraphId: string
  /** The selected words, exactly. */
  text: string
  /** Base64 relative position before the first selected character. */
  start: string
  /** After the last one. */
  end: string
}

export type AnchorRefusal = 'empty' | 'paragraphs' | 'unknown'

export function encodePosition(position: Y.RelativePosition): string {
  return toBase64(Y.encodeRelativePosition(position))
}

export function decodePosition(encoded: string): Y.RelativePosition | null {
  try {
    return Y.decodeRelativePosition(fromBase64(encoded))
  } catch {
    return null
  }
}

/** The Y element drawn as `node`, by identity through the binding's mapping. */
function elementOf(binding: Binding, node: PMNode): Y.XmlElement | null {
  for (const child of binding.type.toArray()) {
    if (child instanceof Y.XmlElement && binding.mapping.get(child as Y.AbstractType<unknown>) === node) return child
  }
  return null
}

function textOf(element: Y.XmlElement): Y.XmlText | null {
  const first = element.get(0)
  return first instanceof Y.XmlText ? first : null
}

/**
 * Anchors the words between `from` and `to` (ProseMirror positions), which
 * must lie in one paragraph. The start sticks to the first word (assoc 0,
 * "after") and the end to the last (assoc -1, "before"), as the server's
 * own anchors do, so text typed right outside the words stays outside.
 */
export function anchorSelection(binding: Binding, doc: PMNode, from: number, to: number): SelectionAnchor | AnchorRefusal {
  if (to <= from) return 'empty'
  const $from = doc.resolve(from)
  const $to = doc.resolve(to)
  if ($from.parent !== $to.parent || !$from.parent.isTextblock) return 'paragraphs'
  const element = elementOf(binding, $from.parent)
  const text = element ? textOf(element) : null
  const id = $from.parent.attrs.id
  if (!text || typeof id !== 'string') return 'unknown'
  const offset = $from.start()
  return {
    paragraphId: id,
    text: doc.textBetween(from, to),
    start: encodePosition(Y.createRelativePositionFromTypeIndex(text, from - offset, 0)),
    end: encodePosition(Y.createRelativePositionFromTypeIndex(text, to - offset, -1)),
  }
}

/**
 * Where an anchor's words are now (ProseMirror positions), or null when they
 * were deleted (the positions collapse onto each other) or their paragraph
 * is gone: such an amendment is shown as such, never placed elsewhere.
 */
export function anchorRange(binding: Binding, doc: PMNode, start: string, end: string): { from: number; to: number } | null {
  const startPosition = decodePosition(start)
  const endPosition = decodePosition(end)
  if (!startPosition || !endPosition) return null
  const a = Y.createAbsolutePositionFromRelativePosition(startPosition, binding.doc)
  const b = Y.createAbsolutePositionFromRelativePosition(endPosition, binding.doc)
  if (!a || !b || a.type !== b.type || !(a.type instanceof Y.XmlText)) return null
  const element = a.type.parent
  if (!(element instanceof Y.XmlElement) || element.parent !== binding.type) return null
  if (element._item?.deleted || a.type._item?.deleted) return null
  const node = binding.mapping.get(element as Y.AbstractType<unknown>)
  if (!node || Array.isArray(node)) return null
  let found = -1
  doc.forEach((child, pos) => {
    if (child === node) found = pos
  })
  if (found < 0 || b.index <= a.index) return null
  const from = found + 1 + a.index
  const to = found + 1 + Math.min(b.index, node.content.size)
  return to > from ? { from, to } : null
}
