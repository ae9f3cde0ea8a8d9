import type { RandomSource } from "./random.js";

/**
 * Samples ranks 0..n-1 with P(rank k) proportional to 1 / (k+1)^s: a few products get most of
 * the reads, as on a real storefront (s ≈ 1.1 is typical of web popularity). The cumulative
 * distribution is computed once, so a sample is one random number and a binary search.
 */
export class ZipfSampler {
  private readonly cumulative: Float64Array;

  constructor(
    readonly size: number,
    readonly exponent: number,
    private readonly random: RandomSource,
  ) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`size must be a positive integer, got ${size}`);
    if (!(exponent >= 0) || !Number.isFinite(exponent)) {
      throw new RangeError(`exponent must be a finite number ≥ 0, got ${exponent}`);
    }
    this.cumulative = new Float64Array(size);
    let total = 0;
    for (let rank = 0; rank < size; rank++) {
      total += 1 / (rank + 1) ** exponent;
      this.cumulative[rank] = total;
    }
    for (let rank = 0; rank < size; rank++) this.cumulative[rank] = this.cumulative[rank]! / total;
    // Rounding can leave the last bucket a hair under 1; a draw of 0.9999999 must still land.
    this.cumulative[size - 1] = 1;
  }

  /** The probability the sampler gives to `rank` (for tests and for the report). */
  probability(rank: number): number {
    if (rank < 0 || rank >= this.size) return 0;
    return this.cumulative[rank]! - (rank === 0 ? 0 : this.cumulative[rank - 1]!);
  }

  next(): number {
    const draw = this.random();
    let low = 0;
    let high = this.size - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.cumulative[middle]! > draw) high = middle;
      else low = middle + 1;
    }
    return low;
  }
}
