/**
 * Remembers recent `dedupId`s of one topic in memory: a repeated id within the window returns
 * the first append's outcome instead of writing the message again. The window is bounded by
 * count and age and does not survive a restart, so it catches client retries of the same request
 * (the common flash-sale case), not duplicates spread over minutes or across a crash; consumers
 * stay idempotent for those.
 */
export class DedupWindow {
  /** Insertion order is age order, so eviction only ever looks at the front. */
  private readonly appends = new Map<
    string,
    { readonly expiresAt: number; readonly outcome: Promise<void> }
  >();

  constructor(
    private readonly maxIds: number,
    private readonly windowMs: number,
  ) {}

  /** The outcome of an append with the same id inside the window, if any. */
  find(id: string, now: number): Promise<void> | undefined {
    const earlier = this.appends.get(id);
    if (earlier === undefined) {
      return undefined;
    }
    if (earlier.expiresAt <= now) {
      this.appends.delete(id);
      return undefined;
    }
    return earlier.outcome;
  }

  remember(id: string, outcome: Promise<void>, now: number): void {
    this.evict(now);
    this.appends.set(id, { expiresAt: now + this.windowMs, outcome });
    // A rejected append stored nothing (as far as the caller knows): a retry must be written.
    outcome.catch(() => {
      if (this.appends.get(id)?.outcome === outcome) {
        this.appends.delete(id);
      }
    });
  }

  private evict(now: number): void {
    for (const [id, entry] of this.appends) {
      if (this.appends.size < this.maxIds && entry.expiresAt > now) {
        return;
      }
      this.appends.delete(id);
    }
  }
}
