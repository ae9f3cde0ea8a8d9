import { LRUCache } from "lru-cache";
import type { Cache } from "./cache.js";
import {
  type CacheEntry,
  decideFill,
  decideRetire,
  decodeEntry,
  encodeEntry,
  type FillEntry,
} from "./versioned-entry.js";

interface Stored {
  readonly value: string;
  readonly expiresAt: number;
}

/** The entries of a MemoryCache with their expiry times, as a Redis snapshot keeps them. */
export type MemoryCacheSnapshot = readonly (readonly [string, Stored])[];

export interface MemoryCacheOptions {
  readonly maxEntries?: number;
  readonly onEvict?: () => void;
  /** The clock expiry is measured on. Default: Date.now. */
  readonly now?: () => number;
}

/**
 * The embedded adapter: an in-process LRU (lru-cache) whose entries expire at a time of their own.
 * Expiry is checked on read against `now`, so the adapter runs on a virtual clock in simulations.
 * Every operation runs to completion before another starts, which makes `fill` and `retire`
 * atomic compare-and-sets.
 */
export class MemoryCache implements Cache {
  private readonly entries: LRUCache<string, Stored>;
  private readonly now: () => number;

  constructor(options: MemoryCacheOptions = {}) {
    const onEvict = options.onEvict;
    this.now = options.now ?? Date.now;
    this.entries = new LRUCache<string, Stored>({
      max: options.maxEntries ?? 100_000,
      // Only evictions for space are reported: expiry and deletes are the cache working as meant.
      ...(onEvict
        ? { dispose: (_value: Stored, _key: string, reason: string) => reason === "evict" && onEvict() }
        : {}),
    });
  }

  async get(key: string): Promise<string | undefined> {
    return this.live(key)?.value;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async readEntry(key: string): Promise<CacheEntry | undefined> {
    const stored = this.live(key);
    return stored && decodeEntry(stored.value);
  }

  async fill(key: string, entry: FillEntry, ttlMs: number, landBy?: number): Promise<boolean> {
    if (landBy !== undefined && this.now() > landBy) return false;
    const stored = this.live(key);
    const decision = decideFill(stored && decodeEntry(stored.value), entry.version);
    if (decision === "store")
      this.entries.set(key, { value: encodeEntry(entry), expiresAt: this.now() + ttlMs });
    return decision !== "newer";
  }

  async retire(key: string, version: number, ttlMs: number): Promise<void> {
    const stored = this.live(key);
    if (decideRetire(stored && decodeEntry(stored.value), version) === "store") {
      const value = encodeEntry({ kind: "retired", version });
      this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
    }
  }

  /** A copy of every entry with its expiry time (for restore drills: see `restore`). */
  snapshot(): MemoryCacheSnapshot {
    return [...this.entries.entries()];
  }

  /** Replaces the contents by a snapshot; entries past their expiry are gone, as in Redis. */
  restore(snapshot: MemoryCacheSnapshot): void {
    this.entries.clear();
    for (const [key, stored] of snapshot) this.entries.set(key, stored);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }

  private live(key: string): Stored | undefined {
    const stored = this.entries.get(key);
    if (stored === undefined || stored.expiresAt > this.now()) return stored;
    this.entries.delete(key);
    return undefined;
  }
}
