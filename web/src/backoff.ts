/**
 * The delay before reconnect attempt `attempt` (0 for the first after a
 * drop): min(30 s, 1 s · 2^attempt), times a random factor in [0.5, 1.5),
 * so that a whole room of delegates does not come back in the same instant
 * after a server restart (the stock provider's backoff has no jitter).
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(30_000, 1000 * 2 ** Math.max(0, attempt))
  return Math.round(base * (0.5 + random()))
}

/** Close codes after which reconnecting cannot help: the server refused us. */
export function isRefusal(code: number): boolean {
  return code >= 4000 && code < 5000
}
