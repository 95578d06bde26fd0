// ProseMirror plugins of the body: computed numbers, stable paragraph ids,
// and (for the projector) following the latest edit.
import { Plugin, PluginKey, type Transaction } from 'prosemirror-state'
import { Decoration, DecorationSet, type EditorView } from 'prosemirror-view'
import type { Node as PMNode } from 'prosemirror-model'
import { ySyncPluginKey } from 'y-prosemirror'
import { numberBlocks } from './numbering'
import { blocksNeedingIds, newBlockId } from './ids'

function numberDecorations(doc: PMNode): DecorationSet {
  const blocks: { type: string; level: unknown }[] = []
  doc.forEach((node) => blocks.push({ type: node.type.name, level: node.attrs.level }))
  const numbers = numberBlocks(blocks as { type: string; level: string }[])
  const decorations: Decoration[] = []
  doc.forEach((node, pos, index) => {
    const number = numbers[index]
    if (number) decorations.push(Decoration.node(pos, pos + node.nodeSize, { 'data-num': number }))
  })
  return DecorationSet.create(doc, decorations)
}

export const numberingKey = new PluginKey<DecorationSet>('numbering')

/** Shows each paragraph's number (computed from the order of the blocks, never stored). */
export function numberingPlugin(): Plugin<DecorationSet> {
  return new Plugin<DecorationSet>({
    key: numberingKey,
    state: {
      init: (_, state) => numberDecorations(state.doc),
      apply: (tr, old) => (tr.docChanged ? numberDecorations(tr.doc) : old),
    },
    props: {
      decorations: (state) => numberingKey.getState(state),
    },
  })
}

function isRemote(tr: Transaction): boolean {
  const meta = tr.getMeta(ySyncPluginKey) as { isChangeOrigin?: boolean } | undefined
  return Boolean(meta?.isChangeOrigin)
}

/**
 * Keeps every paragraph's id unique and present after a local edit (split,
 * paste, new block): see blocksNeedingIds for who keeps an id. Changes that
 * came from others are left alone: their own editor fixes them, so that two
 * editors never race to rename the same paragraph.
 */
export function blockIdPlugin(): Plugin {
  return new Plugin({
    key: new PluginKey('block-ids'),
    appendTransaction(transactions, _old, state) {
      if (!transactions.some((tr) => tr.docChanged && !isRemote(tr))) return null
      const infos: { id: string | null; size: number }[] = []
      const positions: number[] = []
      state.doc.forEach((node, pos) => {
        infos.push({ id: typeof node.attrs.id === 'string' ? node.attrs.id : null, size: node.content.size })
        positions.push(pos)
      })
      const fresh = blocksNeedingIds(infos)
      if (fresh.length === 0) return null
      const tr = state.tr
      for (const index of fresh) {
        const pos = positions[index]
        const node = state.doc.nodeAt(pos)
        if (node) tr.setNodeMarkup(pos, undefined, { ...node.attrs, id: newBlockId() }, node.marks)
      }
      return tr
    },
  })
}

/** Projector: brings the latest change into view as others type. */
export function followPlugin(): Plugin {
  return new Plugin({
    key: new PluginKey('follow'),
    view: () => ({
      update(view: EditorView, previous) {
        if (previous.doc.eq(view.state.doc)) return
        const start = previous.doc.content.findDiffStart(view.state.doc.content)
        if (start == null) return
        const pos = Math.min(start, view.state.doc.content.size)
        let dom: Node | null = null
        try {
          dom = view.domAtPos(pos).node
        } catch {
          return
        }
        const element = dom instanceof HTMLElement ? dom : dom?.parentElement
        const block = element?.closest('.block')
        block?.scrollIntoView({ block: 'center', behavior: 'smooth' })
      },
    }),
  })
}
