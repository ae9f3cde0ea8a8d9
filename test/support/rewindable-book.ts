import type { BloomSnapshot } from "../../src/platform/cache/bloom/bloom-bits.js";
import { MemoryReservationBook } from "../../src/platform/reservations/memory-reservation-book.js";
import type {
  Reservation,
  ReservationBook,
  ReservationRef,
  ReserveDecision,
  ReserveRequest,
  SaleTerms,
  SkuRecord,
  StockChange,
  StockLevels,
  Transition,
  TransitionResult,
} from "../../src/platform/reservations/reservation-book.js";

interface Change {
  /** The book's clock when it happened, so a replay decides exactly as it did. */
  readonly at: number;
  readonly apply: (book: ReservationBook) => Promise<unknown>;
}

/**
 * An in-process reservation book that can be sent back in time, as a Redis restored from an older
 * snapshot (or a lagging replica promoted) is: `rewind(n)` replaces its state with the state after
 * only its first `n` changes. Every change is recorded and replayed into a fresh book, at the clock
 * it first ran at. For the race explorer; production never rewinds.
 */
export class RewindableBook implements ReservationBook {
  readonly shared = false;
  private changes: Change[] = [];
  private inner: MemoryReservationBook;
  private replayAt: number | undefined;

  constructor(private readonly now: () => number) {
    this.inner = this.fresh();
  }

  get changeCount(): number {
    return this.changes.length;
  }

  /** Back to the state after the first `keep` changes; the later ones are forgotten. */
  rewind(keep: number): void {
    const book = this.fresh();
    const kept = this.changes.slice(0, keep);
    // The memory book decides synchronously inside each call, so replaying without awaiting keeps
    // the whole rewind one atomic step, as a Redis restore is to its clients.
    for (const change of kept) {
      this.replayAt = change.at;
      void change.apply(book).catch(() => {});
    }
    this.replayAt = undefined;
    this.inner = book;
    this.changes = kept;
  }

  private fresh(): MemoryReservationBook {
    return new MemoryReservationBook(() => this.replayAt ?? this.now());
  }

  private change<T>(apply: (book: ReservationBook) => Promise<T>): Promise<T> {
    this.changes.push({ at: this.now(), apply });
    return apply(this.inner);
  }

  defineSale(terms: SaleTerms): Promise<boolean> {
    return this.change((book) => book.defineSale(terms));
  }
  reserve(request: ReserveRequest, ttlMs: number): Promise<ReserveDecision> {
    return this.change((book) => book.reserve(request, ttlMs));
  }
  transition(op: Transition, ref: ReservationRef, releaseWithinMs?: number): Promise<TransitionResult> {
    return this.change((book) => book.transition(op, ref, releaseWithinMs));
  }
  load(record: SkuRecord): Promise<boolean> {
    return this.change((book) => book.load(record));
  }
  get(ref: ReservationRef): Promise<Reservation | undefined> {
    return this.inner.get(ref);
  }
  staleReleases(limit: number): Promise<ReservationRef[]> {
    return this.inner.staleReleases(limit);
  }
  expired(limit: number): Promise<ReservationRef[]> {
    return this.inner.expired(limit);
  }
  levels(sku: string): Promise<StockLevels | undefined> {
    return this.inner.levels(sku);
  }
  unsell(
    ref: ReservationRef,
    holder: { userId: string; quantity: number },
  ): Promise<StockChange | undefined> {
    return this.change((book) => book.unsell(ref, holder));
  }
  holders(sku: string): Promise<BloomSnapshot | undefined> {
    return this.inner.holders(sku);
  }
  allLevels(): Promise<StockLevels[]> {
    return this.inner.allLevels();
  }
  async close(): Promise<void> {}
}
