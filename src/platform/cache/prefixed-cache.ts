import type { Cache } from "./cache.js";
import type { CacheEntry, FillEntry } from "./versioned-entry.js";

/** Puts every key under a prefix, so deployments (or test runs) can share one cache server. */
export class PrefixedCache implements Cache {
  constructor(
    private readonly inner: Cache,
    private readonly prefix: string,
  ) {}

  get(key: string): Promise<string | undefined> {
    return this.inner.get(this.prefix + key);
  }

  set(key: string, value: string, ttlMs: number): Promise<void> {
    return this.inner.set(this.prefix + key, value, ttlMs);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(this.prefix + key);
  }

  readEntry(key: string): Promise<CacheEntry | undefined> {
    return this.inner.readEntry(this.prefix + key);
  }

  fill(key: string, entry: FillEntry, ttlMs: number, landBy?: number): Promise<boolean> {
    return this.inner.fill(this.prefix + key, entry, ttlMs, landBy);
  }

  retire(key: string, version: number, ttlMs: number): Promise<void> {
    return this.inner.retire(this.prefix + key, version, ttlMs);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
