/**
 * A short lock around loading one key from the database, so that when a hot key expires only one
 * process loads it (cache breakdown across processes). Within a process, singleflight does that.
 */
export interface LoadLock {
  /** A token when acquired, undefined when another holder has it. Expires by itself after `ttlMs`. */
  tryAcquire(key: string, ttlMs: number): Promise<string | undefined>;
  release(key: string, token: string): Promise<void>;
}

/** Embedded mode: a single process, so singleflight already serialises loads. */
export class LocalLoadLock implements LoadLock {
  async tryAcquire(): Promise<string> {
    return "local";
  }
  async release(): Promise<void> {}
}
