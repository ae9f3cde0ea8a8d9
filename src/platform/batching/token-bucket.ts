/**
 * A token bucket that paces work to `ratePerSecond` with bursts of at most `capacity`. Workers
 * call `take(n)` before writing n rows, which is how the database write rate stays under its
 * ceiling however deep the queue is (peak shaving).
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number = ratePerSecond,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    if (!(ratePerSecond > 0) || !(capacity > 0)) throw new RangeError("rate and capacity must be positive");
    this.tokens = capacity;
    this.refilledAt = this.now();
  }

  /** Waits until `count` tokens are available and takes them; counts above capacity are paced in chunks. */
  async take(count: number, signal?: AbortSignal): Promise<void> {
    let remaining = count;
    while (remaining > 0) {
      if (signal?.aborted) return;
      this.refill();
      const chunk = Math.min(remaining, this.capacity);
      if (this.tokens >= chunk) {
        this.tokens -= chunk;
        remaining -= chunk;
        continue;
      }
      const waitMs = ((chunk - this.tokens) / this.ratePerSecond) * 1000;
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.ceil(waitMs))));
    }
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(
      this.capacity,
      this.tokens + ((now - this.refilledAt) / 1000) * this.ratePerSecond,
    );
    this.refilledAt = now;
  }
}
