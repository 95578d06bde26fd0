import { describe, expect, it } from 'vitest'
import { isRefusal, reconnectDelay } from '../src/backoff'

describe('reconnect backoff', () => {
  it('doubles from one second up to thirty, before jitter', () => {
    const middle = () => 0.5
    expect([0, 1, 2, 3, 4, 5, 6, 10].map((n) => reconnectDelay(n, middle))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000])
  })

  it('spreads each delay over half to one and a half times its base', () => {
    expect(reconnectDelay(0, () => 0)).toBe(500)
    expect(reconnectDelay(0, () => 0.999999)).toBe(1500)
    expect(reconnectDelay(9, () => 0)).toBe(15000)
    expect(reconnectDelay(9, () => 0.999999)).toBe(45000)
    const seen = new Set(Array.from({ length: 50 }, () => reconnectDelay(3)))
    expect(seen.size).toBeGreaterThan(10)
    for (const delay of seen) {
      expect(delay).toBeGreaterThanOrEqual(4000)
      expect(delay).toBeLessThanOrEqual(12000)
    }
  })

  it('stops on the server refusals (4xxx), not on drops or restarts', () => {
    expect(isRefusal(4401)).toBe(true)
    expect(isRefusal(4403)).toBe(true)
    for (const code of [1000, 1001, 1006, 1011, 1012, 1013]) expect(isRefusal(code)).toBe(false)
  })
})
