import { describe, expect, it } from 'vitest'
import { letter, numberBlocks, roman } from '../src/numbering'

const P = { type: 'preamble' }
const O = { type: 'operative' }
const A = { type: 'subparagraph', level: '1' }
const I = { type: 'subparagraph', level: '2' }
const H = { type: 'heading' }

describe('numbering', () => {
  it('numbers operative paragraphs through the whole body, never preambular ones', () => {
    expect(numberBlocks([P, P, O, O, H, O])).toEqual([null, null, '1.', '2.', null, '3.'])
  })

  it('letters sub-paragraphs under their paragraph and restarts at the next one', () => {
    expect(numberBlocks([O, A, A, O, A])).toEqual(['1.', '(a)', '(b)', '2.', '(a)'])
  })

  it('numbers level-2 sub-paragraphs in Roman numerals under each (a)', () => {
    expect(numberBlocks([O, A, I, I, A, I, O])).toEqual(['1.', '(a)', '(i)', '(ii)', '(b)', '(i)', '2.'])
  })

  it('letters sub-paragraphs of a preambular paragraph too', () => {
    expect(numberBlocks([P, A, A, P, O])).toEqual([null, '(a)', '(b)', null, '1.'])
  })

  it('follows an inserted operative paragraph', () => {
    const before = numberBlocks([O, O, O])
    const after = numberBlocks([O, O, O, O])
    expect(before).toEqual(['1.', '2.', '3.'])
    expect(after).toEqual(['1.', '2.', '3.', '4.'])
  })

  it('reads a bad or numeric level as the server does', () => {
    expect(numberBlocks([O, { type: 'subparagraph', level: 2 }, { type: 'subparagraph', level: '7' }])).toEqual(['1.', '(i)', '(a)'])
  })

  it('writes letters and Roman numerals as resolutions do', () => {
    expect([1, 2, 26, 27, 28].map(letter)).toEqual(['a', 'b', 'z', 'aa', 'bb'])
    expect([1, 2, 3, 4, 5, 9, 10, 14, 19, 40, 49].map(roman)).toEqual(['i', 'ii', 'iii', 'iv', 'v', 'ix', 'x', 'xiv', 'xix', 'xl', 'xlix'])
  })
})
