import type { CacheEntry, FillEntry } from "./versioned-entry.js";

/**
 * Cache port. Values are strings (usually serialized JSON) so every adapter — in-process, Redis,
 * Memcached — stores the same bytes and a cached response can be sent without re-serializing.
 *
 * `get`/`set`/`delete` store plain strings. `readEntry`/`fill`/`retire` store versioned entries
 * (src/platform/cache/versioned-entry.ts) and are atomic compare-and-set operations on each
 * adapter: in-process by running to completion, Redis by a Lua script, Memcached by `gets` then
 * `cas` (or `add` when the key is missing), retried when another writer got in between.
 */
export interface Cache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** The versioned entry under `key`; undefined when there is none (or the key holds a plain string). */
  readEntry(key: string): Promise<CacheEntry | undefined>;
  /**
   * Stores `entry` for `ttlMs` unless the key holds a higher version. Resolves true when the key
   * now holds this version (stored, or already there), false when it holds a higher one or the
   * fill came too late.
   *
   * `landBy` (ms since the epoch; omitted: no limit) is checked where the fill is applied, on the
   * server's clock, not where it is sent: a fill can travel for longer than any client-side check
   * allows (a paused process, a request that timed out and lands later, a compare-and-set retried).
   * A fill that lands after it on a key holding no entry — where the retirement it had to lose
   * against may have expired — must not be stored. Redis and the memory adapter refuse a late
   * fill on any key; Memcached, which cannot refuse without writing, stores one that replaces an
   * entry by CAS (safe: that entry has not changed since the fill read it; memcached-cache.ts).
   */
  fill(key: string, entry: FillEntry, ttlMs: number, landBy?: number): Promise<boolean>;
  /**
   * Replaces whatever the key holds below `version` by a retirement at `version` that lives
   * `ttlMs`; an entry at `version` or above is left as it is. Rejects when it could not be written.
   */
  retire(key: string, version: number, ttlMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Adds up to `fraction` of random extra time to a TTL so keys written together do not all expire
 * in the same instant (cache avalanche).
 */
export function jitteredTtl(ttlMs: number, fraction = 0.1, random: () => number = Math.random): number {
  return Math.round(ttlMs * (1 + random() * fraction));
}
