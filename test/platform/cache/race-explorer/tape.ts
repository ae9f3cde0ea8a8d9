/**
 * Generated numbers handed out in order. The simulation draws every latency (and every message's
 * fate) from a tape, so fast-check can generate and shrink them, and a run is replayed exactly.
 */
export class Tape<T> {
  private next = 0;

  constructor(
    private readonly items: readonly T[],
    private readonly otherwise: T,
  ) {}

  take(): T {
    return this.next < this.items.length ? this.items[this.next++]! : this.otherwise;
  }
}
