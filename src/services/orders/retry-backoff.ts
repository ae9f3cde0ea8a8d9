export interface RetryBackoffOptions {
  /** The first wait. */
  readonly initialMs: number;
  /** No wait is longer, however many failures came before. */
  readonly maxMs: number;
  /** A number in [0, 1); Math.random unless a test fixes it. */
  readonly random?: () => number;
}

/**
 * Capped exponential backoff with jitter: the n-th wait is drawn from [d/2, d] with
 * d = min(maxMs, initialMs × 2^n). The cap keeps a long outage retried often enough to notice its
 * end; the jitter keeps many workers that failed together from retrying together.
 */
export class RetryBackoff {
  private failures = 0;
  private readonly random: () => number;

  constructor(private readonly options: RetryBackoffOptions) {
    if (!(options.initialMs > 0) || !(options.maxMs >= options.initialMs)) {
      throw new RangeError(
        `backoff needs 0 < initialMs <= maxMs, got ${options.initialMs} and ${options.maxMs}`,
      );
    }
    this.random = options.random ?? Math.random;
  }

  /** The wait before the next retry; each call counts one more failure. */
  next(): number {
    // 2^n overflows nothing here: the exponent stops growing once the cap is reached.
    const ceiling = Math.min(this.options.maxMs, this.options.initialMs * 2 ** this.failures);
    if (ceiling < this.options.maxMs) this.failures += 1;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** After a success: the next failure starts from `initialMs` again. */
  reset(): void {
    this.failures = 0;
  }
}
