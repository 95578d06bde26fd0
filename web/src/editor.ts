// The ProseMirror view of a resolution's body, bound to the live Y.Doc with
// y-prosemirror: the editor (with others' cursors) and the projector.
import { EditorState, type Command, type Plugin } from 'prosemirror-state'
import { EditorView } from 'prosemirror-view'
import { keymap } from 'prosemirror-keymap'
import { baseKeymap } from 'prosemirror-commands'
import { ySyncPlugin, yCursorPlugin, yUndoPlugin, undo, redo } from 'y-prosemirror'
import { schema } from './schema'
import { numberingPlugin, blockIdPlugin, followPlugin } from './plugins'
import { backspace, enter, indent, outdent, setKind, toggleBold, toggleItalic } from './commands'
import type { LiveDocument } from './live'

export interface RemoteUser {
  name?: string
  delegation?: string | null
  role?: string
  color?: string
}

export interface BodyViewOptions {
  live: LiveDocument
  /** Whether the text may be edited now (asked on every render). */
  editable: () => boolean
  /** Shows others' cursors and selections, labelled. */
  cursors?: { label: (user: RemoteUser) => string }
  /** The projector: follow the latest edit. */
  follow?: boolean
  /** Extra keys (help, leave the text), before the editing keys. */
  keys?: Record<string, Command>
  /** Accessible attributes of the editable element. */
  attributes: () => Record<string, string>
  /** Called after every transaction (toolbar state). */
  onUpdate?: (view: EditorView) => void
  /** More plugins (the amendments' highlights). */
  plugins?: Plugin[]
}

const CSS_HEX = /^#[0-9a-fA-F]{6}$/

/** Black or white, whichever reads better on `background` (#rrggbb), by WCAG relative luminance. */
export function readableOn(background: string): string {
  const channel = (offset: number) => {
    const value = parseInt(background.slice(offset, offset + 2), 16) / 255
    return value <= 0.03928 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4
  }
  const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
  // Contrast with white: 1.05 / (L + 0.05); with black: (L + 0.05) / 0.05.
  return 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? '#ffffff' : '#000000'
}

/** The caret of someone else, with their name and delegation on a flag. */
export function cursorElement(user: RemoteUser, label: string): HTMLElement {
  const color = user.color && CSS_HEX.test(user.color) ? user.color : '#6b7280'
  const cursor = document.createElement('span')
  cursor.className = 'remote-cursor'
  cursor.style.borderColor = color
  cursor.setAttribute('aria-hidden', 'true')
  const flag = document.createElement('span')
  flag.className = 'remote-cursor-label'
  flag.style.backgroundColor = color
  flag.style.color = readableOn(color)
  flag.textContent = label
  cursor.append('\u2060', flag, '\u2060')
  return cursor
}

export const editingKeys: Record<string, Command> = {
  Enter: enter,
  Backspace: backspace,
  Tab: indent,
  'Shift-Tab': outdent,
  'Mod-i': toggleItalic,
  'Mod-b': toggleBold,
  'Mod-z': undo,
  'Mod-y': redo,
  'Shift-Mod-z': redo,
  'Shift-Mod-p': setKind('preamble'),
  'Shift-Mod-o': setKind('operative'),
  'Shift-Mod-h': setKind('heading'),
}

export function createBodyView(mount: HTMLElement, options: BodyViewOptions): EditorView {
  const { live } = options
  const plugins = [
    ySyncPlugin(live.body),
    yUndoPlugin(),
    numberingPlugin(),
    blockIdPlugin(),
  ]
  if (options.cursors) {
    const label = options.cursors.label
    plugins.push(
      yCursorPlugin(live.awareness, {
        cursorBuilder: (user: RemoteUser) => cursorElement(user, label(user)),
        selectionBuilder: (user: RemoteUser) => ({
          class: 'remote-selection',
          style: `background-color: ${user.color && CSS_HEX.test(user.color) ? user.color : '#6b7280'}33`,
        }),
      }),
    )
  }
  if (options.follow) plugins.push(followPlugin())
  plugins.push(...(options.plugins ?? []))
  // Editing keys do nothing on a read-only text, whatever has the focus.
  const guarded = (command: Command): Command => (state, dispatch, view) => (options.editable() ? command(state, dispatch, view) : false)
  const editing: Record<string, Command> = {}
  for (const [key, command] of Object.entries({ ...editingKeys })) editing[key] = guarded(command)
  const base: Record<string, Command> = {}
  for (const [key, command] of Object.entries(baseKeymap)) base[key] = guarded(command)
  plugins.push(keymap({ ...(options.keys ?? {}), ...editing }), keymap(base))
  return new EditorView(mount, {
    state: EditorState.create({ schema, plugins }),
    editable: options.editable,
    attributes: options.attributes,
    // `this`, not a variable: y-prosemirror dispatches its first render
    // while the view is still being constructed.
    dispatchTransaction(this: EditorView, tr) {
      // Late events (a socket message, a timer) may reach a view already destroyed.
      if (this.isDestroyed) return
      this.updateState(this.state.apply(tr))
      options.onUpdate?.(this)
    },
  })
}
