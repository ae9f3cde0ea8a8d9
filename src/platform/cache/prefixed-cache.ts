import type { Cache } from "./cache.js";

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

  close(): Promise<void> {
    return this.inner.close();
  }
}
