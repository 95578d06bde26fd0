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

const RANK: Record<string, number> = { voting: 3, tabled: 2, proposed: 1 }

/** One run of text and the amendments over it (several when they overlap). */
export interface Segment {
  from: number
  to: number
  specs: HighlightSpec[]
}

/**
 * Cuts overlapping highlights into runs, each with every amendment over it,
 * so that the words of two amendments are described as both, never as
 * whichever happened to be drawn last.
 */
export function segments(placed: readonly { spec: HighlightSpec; from: number; to: number }[]): Segment[] {
  const cuts = [...new Set(placed.flatMap((p) => [p.from, p.to]))].sort((a, b) => a - b)
  const runs: Segment[] = []
  for (let i = 0; i + 1 < cuts.length; i++) {
    const [from, to] = [cuts[i], cuts[i + 1]]
    const specs = placed.filter((p) => p.from <= from && p.to >= to).map((p) => p.spec)
    if (specs.length) runs.push({ from, to, specs: specs.sort((a, b) => a.number - b.number) })
  }
  return runs
}

function draw(state: EditorState, placed: readonly Placed[], focused: string | null): DecorationSet {
  const decorations: Decoration[] = []
  for (const { from, to, specs } of segments(placed)) {
    // The most advanced status colours the words; the focused one outlines them.
    const lead = [...specs].sort((a, b) => (RANK[b.status] ?? 0) - (RANK[a.status] ?? 0))[0]
    const focus = specs.some((spec) => spec.id === focused)
    decorations.push(
      Decoration.inline(from, to, {
        class: `amend-mark amend-${lead.status}${focus ? ' amend-focus' : ''}`,
        'data-amendment': focus ? (focused as string) : lead.id,
        title: specs.map((spec) => spec.label).join('\n'),
        'aria-describedby': specs.map((spec) => spec.describedBy).join(' '),
      }),
    )
  }
  for (const { spec, from } of placed) {
    const focus = spec.id === focused ? ' amend-focus' : ''
    decorations.push(
      Decoration.widget(
        from,
        () => {
          const badge = document.createElement('span')
          badge.className = `amend-badge amend-${spec.status}${focus}`
          badge.dataset.amendment = spec.id
          // Drawn by CSS from data-n, so that the number is neither copied
          // with the text nor counted in it.
          badge.dataset.n = String(spec.number)
          badge.title = spec.label
          // Read with the words through aria-describedby; the badge is seen, not read.
          badge.setAttribute('aria-hidden', 'true')
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
