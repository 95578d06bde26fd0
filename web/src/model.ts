// The body's schema, read from the one copy that the server reads too
// (docs/document-model.json; explained in docs/document-model.md).
import modelJson from '../../docs/document-model.json'

export interface AttributeModel {
  name: string
  required?: boolean
  values?: string[]
  default?: string
}

export interface BlockModel {
  name: string
  numbering: 'none' | 'arabic' | 'by-level'
  attributes: AttributeModel[]
}

export interface DocumentModel {
  root: string
  id: { attribute: string; prefix: string; length: number; alphabet: string }
  blocks: BlockModel[]
  marks: string[]
}

export const model: DocumentModel = modelJson as DocumentModel

/** The block kinds the editor offers, by element name. */
export type BlockName = 'preamble' | 'operative' | 'subparagraph' | 'heading'

export function blockModel(name: string): BlockModel | undefined {
  return model.blocks.find((block) => block.name === name)
}
