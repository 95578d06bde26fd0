/**
 * The colour the server gives an account in the awareness states
 * (server/sync/awareness.rs `color_of`), so that one's own swatch matches
 * what the others see. The server keeps a client's colour when it is CSS hex.
 */
const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#ff7f0e', '#393b79']

export function colorOf(account: string): string {
  let hash = 0
  for (const byte of new TextEncoder().encode(account)) {
    hash = (Math.imul(hash, 31) + byte) >>> 0
  }
  return PALETTE[hash % PALETTE.length]
}
