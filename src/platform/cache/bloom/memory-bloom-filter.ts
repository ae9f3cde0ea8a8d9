import { BloomBits, type BloomSnapshot } from "./bloom-bits.js";
import { bloomShape } from "./bloom-math.js";
import type { FilterLookup, FilterState, MembershipFilter } from "./membership-filter.js";

export type { BloomSnapshot } from "./bloom-bits.js";

/**
 * The embedded filter: a bit array in this process. Like the Redis one, it is empty and unsized
 * until the first rebuild, and until then it rules nothing out.
 */
export class MemoryBloomFilter implements MembershipFilter {
  private bits: BloomBits | undefined;
  private count = 0;
  private capacity = 0;
  private stamp = 0;
  private generation = 0;
  private builtAt = 0;

  constructor(private readonly falsePositiveRate: number) {}

  async mightContain(item: string): Promise<boolean> {
    return this.test(item);
  }

  async lookup(item: string): Promise<FilterLookup> {
    return { maybe: this.test(item), stamp: this.stamp };
  }

  /** Synchronous test, for callers on a hot path in the same process. */
  test(item: string): boolean {
    return this.bits ? this.bits.test(item) : true;
  }

  async add(items: readonly string[], mark?: { stamp: number; generation: string }): Promise<void> {
    if (!this.bits) return; // not built yet: the first rebuild will include these items
    this.bits.add(items);
    this.count += items.length;
    if (mark && mark.generation === String(this.generation)) {
      this.stamp = Math.max(this.stamp, mark.stamp);
    }
  }

  /** Rebuilds before it returns its promise (callers may use the filter without awaiting). */
  async rebuild(
    items: readonly string[],
    expectedItems: number,
    mark?: { stamp: number; builtAt: number },
  ): Promise<void> {
    this.capacity = Math.max(1, expectedItems);
    this.bits = BloomBits.ofShape(bloomShape(this.capacity, this.falsePositiveRate));
    this.bits.add(items);
    this.count = items.length;
    this.generation += 1;
    this.stamp = mark?.stamp ?? 0;
    this.builtAt = mark?.builtAt ?? 0;
  }

  async state(): Promise<FilterState> {
    return {
      count: this.count,
      capacity: this.capacity,
      stamp: this.stamp,
      generation: String(this.generation),
      builtAt: this.builtAt,
      intact: true,
    };
  }

  /** The filter as plain data, to send to another process (which rebuilds it with `fromSnapshot`). */
  snapshot(): BloomSnapshot | undefined {
    return this.bits?.snapshot();
  }

  static fromSnapshot(snapshot: BloomSnapshot): MemoryBloomFilter {
    const filter = new MemoryBloomFilter(0.5);
    filter.bits = BloomBits.fromSnapshot(snapshot);
    return filter;
  }
}
