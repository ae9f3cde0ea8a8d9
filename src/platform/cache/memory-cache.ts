import { LRUCache } from "lru-cache";
import type { Cache } from "./cache.js";

/** The embedded adapter: an in-process LRU with per-entry TTL (lru-cache). */
export class MemoryCache implements Cache {
  private readonly entries: LRUCache<string, string>;

  constructor(options: { maxEntries?: number; onEvict?: () => void } = {}) {
    const onEvict = options.onEvict;
    this.entries = new LRUCache<string, string>({
      max: options.maxEntries ?? 100_000,
      ttlAutopurge: false,
      // Only evictions for space are reported: expiry and deletes are the cache working as meant.
      ...(onEvict
        ? { dispose: (_value: string, _key: string, reason: string) => reason === "evict" && onEvict() }
        : {}),
    });
  }

  async get(key: string): Promise<string | undefined> {
    return this.entries.get(key);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.entries.set(key, value, { ttl: ttlMs });
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}
