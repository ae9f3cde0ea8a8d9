/**
 * Cache port. Values are strings (usually serialized JSON) so every adapter — in-process, Redis,
 * Memcached — stores the same bytes and a cached response can be sent without re-serializing.
 */
export interface Cache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * Adds up to `fraction` of random extra time to a TTL so keys written together do not all expire
 * in the same instant (cache avalanche).
 */
export function jitteredTtl(ttlMs: number, fraction = 0.1): number {
  return Math.round(ttlMs * (1 + Math.random() * fraction));
}
