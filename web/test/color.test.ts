import { describe, expect, it } from 'vitest'
import { colorOf } from '../src/color'

describe('presence colours', () => {
  it('match the server palette (server/sync/awareness.rs color_of)', () => {
    // 'acc1': ((97·31 + 99)·31 + 99)·31 + 49 = 2987984, index 4 of 0..9.
    expect(colorOf('acc1')).toBe('#8c564b')
    expect(colorOf('')).toBe('#1f77b4')
    expect(colorOf('some-account-id')).toMatch(/^#[0-9a-f]{6}$/)
  })
})

describe('cursor flags', () => {
  it('write in black or white, whichever reads better on the colour', async () => {
    const { readableOn } = await import('../src/editor')
    expect(readableOn('#1f77b4')).toBe('#ffffff')
    expect(readableOn('#393b79')).toBe('#ffffff')
    expect(readableOn('#bcbd22')).toBe('#000000')
    expect(readableOn('#17becf')).toBe('#000000')
    expect(readableOn('#ff7f0e')).toBe('#000000')
    // Mid-tones reach 4.5:1 only with pure black: #9467bd gives 4.9:1 with #000, 4.4:1 with #111.
    expect(readableOn('#9467bd')).toBe('#000000')
  })
})
