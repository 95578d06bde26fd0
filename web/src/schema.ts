// The ProseMirror schema of a resolution's body, built from the shared model
// (docs/document-model.json) so that the editor writes exactly what the
// server reads. y-prosemirror stores each node as a Y.XmlElement named after
// the node type, its attributes as the element's attributes, and each mark
// as a formatting attribute of the text ({italic: {}}).
import { Schema, type NodeSpec, type MarkSpec, type DOMOutputSpec } from 'prosemirror-model'
import { model, type BlockModel } from './model'

const CLASS: Record<string, string> = {
  preamble: 'pp',
  operative: 'op',
  subparagraph: 'sp',
  heading: 'hd',
}

function attrsOf(block: BlockModel): NodeSpec['attrs'] {
  const attrs: NonNullable<NodeSpec['attrs']> = {}
  for (const attribute of block.attributes) {
    attrs[attribute.name] = { default: attribute.default ?? null }
  }
  return attrs
}

function blockSpec(block: BlockModel): NodeSpec {
  const tag = block.name === 'heading' ? 'h2' : 'p'
  const cls = CLASS[block.name] ?? 'pp'
  return {
    group: 'block',
    content: 'text*',
    marks: '_',
    defining: true,
    attrs: attrsOf(block),
    toDOM(node): DOMOutputSpec {
      const attrs: Record<string, string> = { class: `block ${cls}` }
      if (node.attrs.id) attrs['data-id'] = String(node.attrs.id)
      if (block.name === 'subparagraph') attrs['data-level'] = String(node.attrs.level === '2' ? '2' : '1')
      return [tag, attrs, 0]
    },
    parseDOM: [
      {
        tag: `${tag}.${cls}`,
        getAttrs(dom) {
          const element = dom as HTMLElement
          const attrs: Record<string, string | null> = { id: element.getAttribute('data-id') }
          if (block.name === 'subparagraph') attrs.level = element.getAttribute('data-level') === '2' ? '2' : '1'
          return attrs
        },
      },
    ],
  }
}

const nodes: Record<string, NodeSpec> = {
  doc: { content: 'block+' },
}
for (const block of model.blocks) nodes[block.name] = blockSpec(block)
// Pasted paragraphs from elsewhere: plain paragraphs become operative ones
// (most of a resolution), headings headings. Listed after the precise rules.
// A lower priority makes them yield to the precise rules of every block.
const generic = (tag: string) => ({ tag, priority: 10, getAttrs: () => ({ id: null }) })
nodes.operative.parseDOM = [...(nodes.operative.parseDOM ?? []), generic('p'), generic('li'), generic('div')]
nodes.heading.parseDOM = [...(nodes.heading.parseDOM ?? []), ...['h1', 'h2', 'h3', 'h4'].map(generic)]
nodes.text = { group: 'inline' }

const MARKS: Record<string, MarkSpec> = {
  italic: {
    parseDOM: [{ tag: 'i' }, { tag: 'em' }, { style: 'font-style=italic' }],
    toDOM: () => ['em', 0],
  },
  bold: {
    parseDOM: [
      { tag: 'strong' },
      { tag: 'b', getAttrs: (node) => (node as HTMLElement).style.fontWeight !== 'normal' && null },
      { style: 'font-weight', getAttrs: (value) => /^(bold(er)?|[5-9]\d{2,})$/.test(value as string) && null },
    ],
    toDOM: () => ['strong', 0],
  },
}
const marks: Record<string, MarkSpec> = {}
for (const name of model.marks) {
  const spec = MARKS[name]
  if (!spec) throw new Error(`docs/document-model.json names a mark the editor cannot show: ${name}`)
  marks[name] = spec
}

export const schema = new Schema({ nodes, marks })
