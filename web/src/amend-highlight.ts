// The words open amendments change, highlighted in the text with their
// number: placed from their relative positions on every change to the text,
// so that they follow the words as others edit around them.
import { Plugin, PluginKey, type EditorState } from 'prosemirror-state'
import { Decoration, DecorationSet, type EditorView } from 'prosemirror-view'
import { ySyncPluginKey } from 'y-prosemirror'
import { anchorRange, type Binding } from './anchors'

/** One highlight to draw. */
export interface HighlightSpec {
  id: string
  number: number
  status: string
  start: string
  end: string
  /** Tooltip: "Amendment 3: In operative paragraph 1, replace …". */
  label: string
  /** The id of the element describing it (the panel's wording). */
  describedBy: string
}

interface Placed {
  spec: HighlightSpec
  from: number
  to: number
}

interface HighlightState {
  specs: HighlightSpec[]
  focused: string | null
  placed: Placed[]
  decorations: DecorationSet
}

type Meta = { specs?: HighlightSpec[]; focused?: string | null; placed?: Placed[] }

export const amendHighlightKey = new PluginKey<HighlightState>('amend-highlight')

function bindingOf(state: EditorState): Binding | null {
  const sync = ySyncPluginKey.getState(state) as { binding?: Binding | null } | undefined
  return sync?.binding ?? null
}

/** Where each highlight lies in `state`, leaving out those whose words are gone. */
export function place(state: EditorState, specs: readonly HighlightSpec[]): Placed[] {
  const binding = bindingOf(state)
  if (!binding) return []
  const placed: Placed[] = []
  for (const spec of specs) {
    const range = anchorRange(binding, state.doc, spec.start, spec.end)
    if (range) placed.push({ spec, ...range })
  }
  return placed
}

function samePlaces(a: readonly Placed[], b: readonly Placed[]): boolean {
  return a.length === b.length && a.every((p, i) => p.spec === b[i].spec && p.from === b[i].from && p.to === b[i].to)
}

function draw(state: EditorState, placed: readonly Placed[], focused: string | null): DecorationSet {
  const decorations: Decoration[] = []
  for (const { spec, from, to } of placed) {
    const focus = spec.id === focused ? ' amend-focus' : ''
    decorations.push(
      Decoration.inline(
        from,
        to,
        {
          class: `amend-mark amend-${spec.status}${focus}`,
          'data-amendment': spec.id,
          title: spec.label,
          'aria-describedby': spec.describedBy,
        },
        { id: spec.id },
      ),
      Decoration.widget(
        from,
        () => {
          const badge = document.createElement('span')
          badge.className = `amend-badge amend-${spec.status}${focus}`
          badge.dataset.amendment = spec.id
          badge.title = spec.label
          // Read with the words through aria-describedby; the badge is seen, not read.
          badge.setAttribute('aria-hidden', 'true')
          // Drawn by CSS from data-n, so that the number is neither copied
          // with the text nor counted in it.
          badge.dataset.n = String(spec.number)
          return badge
        },
        { side: -1, key: `amend-${spec.id}-${spec.number}-${spec.status}${focus}`, ignoreSelection: true },
      ),
    )
  }
  return DecorationSet.create(state.doc, decorations)
}

/**
 * The highlight plugin. `onActivate` is called with an amendment's id when
 * its highlighted words are clicked.
 */
export function amendHighlightPlugin(onActivate: (id: string) => void): Plugin<HighlightState> {
  return new Plugin<HighlightState>({
    key: amendHighlightKey,
    state: {
      init: (_, state) => ({ specs: [], focused: null, placed: [], decorations: DecorationSet.create(state.doc, []) }),
      apply(tr, old, _oldState, state) {
        const meta = tr.getMeta(amendHighlightKey) as Meta | undefined
        if (meta) {
          const specs = meta.specs ?? old.specs
          const focused = meta.focused !== undefined ? meta.focused : old.focused
          const placed = meta.placed ?? (meta.specs ? place(state, specs) : old.placed)
          return { specs, focused, placed, decorations: draw(state, placed, focused) }
        }
        // Until the view places them again (after y-prosemirror has brought
        // the Y.Doc up to date), follow the edit.
        if (tr.docChanged) return { ...old, decorations: old.decorations.map(tr.mapping, tr.doc) }
        return old
      },
    },
    props: {
      decorations: (state) => amendHighlightKey.getState(state)?.decorations,
      handleClick(_view, _pos, event) {
        const target = (event.target as Element | null)?.closest?.('[data-amendment]') as HTMLElement | null
        const id = target?.dataset.amendment
        if (!id) return false
        onActivate(id)
        return false
      },
    },
    view: () => ({
      update(view: EditorView, previous: EditorState) {
        const current = amendHighlightKey.getState(view.state)
        if (!current || previous.doc === view.state.doc) return
        const placed = place(view.state, current.specs)
        if (!samePlaces(placed, current.placed)) view.dispatch(view.state.tr.setMeta(amendHighlightKey, { placed }))
      },
    }),
  })
}

/** Shows these highlights (and which one has the focus). */
export function setHighlights(view: EditorView, specs: HighlightSpec[], focused: string | null): void {
  view.dispatch(view.state.tr.setMeta(amendHighlightKey, { specs, focused }))
}

/** Where an amendment's words are now, if highlighted. */
export function highlightRange(view: EditorView, id: string): { from: number; to: number } | null {
  const placed = amendHighlightKey.getState(view.state)?.placed.find((p) => p.spec.id === id)
  return placed ? { from: placed.from, to: placed.to } : null
}
