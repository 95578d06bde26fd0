import { model } from './model'

/** A fresh paragraph id: "p" and 10 base-62 characters (docs/document-model.md). */
export function newBlockId(random: () => number = Math.random): string {
  const { prefix, length, alphabet } = model.id
  let id = prefix
  const bytes = new Uint8Array(length)
  if (random === Math.random && typeof crypto !== 'undefined' && crypto.getRandomValues) {
    crypto.getRandomValues(bytes)
    for (const byte of bytes) id += alphabet[byte % alphabet.length]
  } else {
    for (let i = 0; i < length; i++) id += alphabet[Math.floor(random() * alphabet.length)]
  }
  return id
}

/** Whether `id` has the shape of a paragraph id. */
export function isBlockId(id: unknown): id is string {
  if (typeof id !== 'string') return false
  const { prefix, length, alphabet } = model.id
  if (id.length !== prefix.length + length || !id.startsWith(prefix)) return false
  for (const char of id.slice(prefix.length)) if (!alphabet.includes(char)) return false
  return true
}

/** What the de-duplication needs to know of a block. */
export interface BlockIdInfo {
  id: string | null
  /** Length of its text. */
  size: number
}

/**
 * Which blocks need a fresh id, by index: those without a valid id, and all
 * but one of the blocks that share an id. Of blocks sharing an id, the one
 * that keeps it is the one that was there first (`existing`: ids of the
 * blocks before the edit, with their index then) — except for a split, where
 * two neighbours share it: there the half with more of the text keeps it
 * (Enter at the start of a paragraph moves the paragraph down with its id).
 */
export function blocksNeedingIds(blocks: BlockIdInfo[]): number[] {
  const fresh: number[] = []
  const groups = new Map<string, number[]>()
  blocks.forEach((block, index) => {
    if (!isBlockId(block.id)) {
      fresh.push(index)
      return
    }
    const group = groups.get(block.id)
    if (group) group.push(index)
    else groups.set(block.id, [index])
  })
  for (const group of groups.values()) {
    if (group.length < 2) continue
    let keeper = group[0]
    // Two neighbours sharing an id: a split. The longer half keeps it.
    if (group.length === 2 && group[1] === group[0] + 1 && blocks[group[1]].size > blocks[group[0]].size) {
      keeper = group[1]
    }
    for (const index of group) if (index !== keeper) fresh.push(index)
  }
  return fresh.sort((a, b) => a - b)
}
