// Numbers are computed, never stored (docs/document-model.md).

export interface NumberedBlock {
  type: string
  /** "1" or "2" for a sub-paragraph. */
  level?: string | number | null
}

/** a, b, … z, aa, bb, … (the usual continuation in resolutions). */
export function letter(n: number): string {
  const index = (n - 1) % 26
  const repeat = Math.floor((n - 1) / 26) + 1
  return String.fromCharCode(97 + index).repeat(repeat)
}

/** Lower-case Roman numerals: i, ii, iii, iv … */
export function roman(n: number): string {
  const table: [number, string][] = [
    [1000, 'm'], [900, 'cm'], [500, 'd'], [400, 'cd'], [100, 'c'], [90, 'xc'],
    [50, 'l'], [40, 'xl'], [10, 'x'], [9, 'ix'], [5, 'v'], [4, 'iv'], [1, 'i'],
  ]
  let out = ''
  let rest = n
  for (const [value, digits] of table) {
    while (rest >= value) {
      out += digits
      rest -= value
    }
  }
  return out
}

/** The level of a sub-paragraph: 1 or 2 (anything else reads as 1, as on the server). */
export function levelOf(block: NumberedBlock): 1 | 2 {
  return String(block.level) === '2' ? 2 : 1
}

/**
 * The number shown before each block: "1." for operative paragraphs, "(a)"
 * and "(i)" for sub-paragraphs, null for preambular paragraphs and headings.
 */
export function numberBlocks(blocks: NumberedBlock[]): (string | null)[] {
  let operative = 0
  let level1 = 0
  let level2 = 0
  return blocks.map((block) => {
    switch (block.type) {
      case 'operative':
        operative += 1
        level1 = 0
        level2 = 0
        return `${operative}.`
      case 'preamble':
        level1 = 0
        level2 = 0
        return null
      case 'subparagraph':
        if (levelOf(block) === 1) {
          level1 += 1
          level2 = 0
          return `(${letter(level1)})`
        }
        level2 += 1
        return `(${roman(level2)})`
      default:
        return null
    }
  })
}
