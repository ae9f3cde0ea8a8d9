import { type BloomShape, bitPositions, bloomShape } from "./bloom-math.js";
import type { FilterLookup, FilterState, MembershipFilter } from "./membership-filter.js";

/**
 * The embedded filter: a bit array in this process. Like the Redis one, it is empty and unsized
 * until the first rebuild, and until then it rules nothing out.
 */
export class MemoryBloomFilter implements MembershipFilter {
  private shape: BloomShape | undefined;
  private bits = new Uint8Array(0);
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
    if (!this.shape) return true;
    for (const position of bitPositions(item, this.shape)) {
      if ((this.bits[position >> 3]! & (1 << (position & 7))) === 0) return false;
    }
    return true;
  }

  async add(items: readonly string[], mark?: { stamp: number; generation: string }): Promise<void> {
    this.addNow(items);
    if (this.shape && mark && mark.generation === String(this.generation)) {
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
    this.shape = bloomShape(this.capacity, this.falsePositiveRate);
    this.bits = new Uint8Array(Math.ceil(this.shape.bits / 8));
    this.count = 0;
    this.generation += 1;
    this.stamp = mark?.stamp ?? 0;
    this.builtAt = mark?.builtAt ?? 0;
    this.addNow(items);
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

  /** Synchronous add, for callers on a hot path in the same process. */
  addNow(items: readonly string[]): void {
    const shape = this.shape;
    if (!shape) return; // not built yet: the first rebuild will include these items
    for (const item of items) {
      for (const position of bitPositions(item, shape)) this.bits[position >> 3]! |= 1 << (position & 7);
    }
    this.count += items.length;
  }

  /** The filter as plain data, to send to another process (which rebuilds it with `fromSnapshot`). */
  snapshot(): BloomSnapshot | undefined {
    return this.shape && { ...this.shape, data: Buffer.from(this.bits).toString("base64") };
  }

  /** An empty filter of a given shape (sized by its owner, not by a rebuild). */
  static ofShape(shape: BloomShape): MemoryBloomFilter {
    const filter = new MemoryBloomFilter(0.5);
    filter.shape = shape;
    filter.bits = new Uint8Array(Math.ceil(shape.bits / 8));
    return filter;
  }

  /** The bit array itself (not a copy), with its shape; undefined until the first rebuild. */
  bitArray(): { shape: BloomShape; bits: Uint8Array } | undefined {
    return this.shape && { shape: this.shape, bits: this.bits };
  }

  static fromSnapshot(snapshot: BloomSnapshot): MemoryBloomFilter {
    const filter = new MemoryBloomFilter(0.5);
    const bits = new Uint8Array(Buffer.from(snapshot.data, "base64"));
    if (!(snapshot.bits >= 1 && snapshot.hashes >= 1 && bits.length === Math.ceil(snapshot.bits / 8))) {
      throw new RangeError("malformed Bloom filter snapshot");
    }
    filter.shape = { bits: snapshot.bits, hashes: snapshot.hashes };
    filter.bits = bits;
    return filter;
  }
}

export interface BloomSnapshot extends BloomShape {
  /** The bit array, base64. */
  readonly data: string;
}
