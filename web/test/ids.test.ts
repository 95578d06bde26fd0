import { describe, expect, it } from 'vitest'
import { blocksNeedingIds, isBlockId, newBlockId } from '../src/ids'

describe('paragraph ids', () => {
  it('have the shape the server writes: p and 10 base-62 characters', () => {
    for (let i = 0; i < 100; i++) {
      const id = newBlockId()
      expect(id).toMatch(/^p[0-9A-Za-z]{10}$/)
      expect(isBlockId(id)).toBe(true)
    }
    expect(new Set(Array.from({ length: 1000 }, () => newBlockId())).size).toBe(1000)
    expect(isBlockId('p123')).toBe(false)
    expect(isBlockId('x0123456789')).toBe(false)
    expect(isBlockId(null)).toBe(false)
  })

  const id = (n: number) => `p${String(n).padStart(10, '0')}`

  it('leaves unique ids alone', () => {
    expect(blocksNeedingIds([{ id: id(1), size: 3 }, { id: id(2), size: 0 }])).toEqual([])
  })

  it('gives missing or malformed ids a fresh one', () => {
    expect(blocksNeedingIds([{ id: null, size: 3 }, { id: 'bad', size: 1 }, { id: id(1), size: 1 }])).toEqual([0, 1])
  })

  it('after Enter at the end of a paragraph, the new empty one gets the fresh id', () => {
    expect(blocksNeedingIds([{ id: id(1), size: 20 }, { id: id(1), size: 0 }])).toEqual([1])
  })

  it('after Enter at the start, the text moves down with its id', () => {
    expect(blocksNeedingIds([{ id: id(1), size: 0 }, { id: id(1), size: 20 }])).toEqual([0])
  })

  it('after a split in the middle, the longer half keeps the id', () => {
    expect(blocksNeedingIds([{ id: id(1), size: 12 }, { id: id(1), size: 5 }])).toEqual([1])
    expect(blocksNeedingIds([{ id: id(1), size: 5 }, { id: id(1), size: 12 }])).toEqual([0])
  })

  it('a pasted copy elsewhere gets a fresh id, the original keeps its own', () => {
    expect(blocksNeedingIds([{ id: id(1), size: 9 }, { id: id(2), size: 4 }, { id: id(1), size: 9 }])).toEqual([2])
    expect(blocksNeedingIds([{ id: id(1), size: 1 }, { id: id(1), size: 1 }, { id: id(1), size: 1 }])).toEqual([1, 2])
  })
})
