import type { Logger } from "../../platform/observability/logger.js";
import type { ReservationBook } from "../../platform/reservations/reservation-book.js";
import type { OrderBacklog } from "../orders/api.js";
import type { ReservationStore } from "./reservation-store.js";
import type { StockReservations } from "./stock-reservations.js";

const SWEEP_BATCH = 1000;

export interface ReservationSweeperOptions {
  readonly book: ReservationBook;
  readonly store: ReservationStore;
  readonly reservations: StockReservations;
  /** Accepted orders not yet stored: the orders queue's backlog and its dead letters. */
  readonly backlog: () => Promise<OrderBacklog>;
  readonly log: Logger;
}

/**
 * Puts back on sale what no order will claim, once a second:
 * - reservations past their expiry that are still undecided, but only while the orders backlog is
 *   empty: an order waiting in the queue confirms its reservation however long the burst takes to
 *   drain, so with nothing queued, an undecided reservation's order never reached the queue (its
 *   intake died between reserving and appending). Nor one whose order is in the dead letters:
 *   it waits for an operator's replay. Accepted ones never expire;
 * - releases whose process died half-way (`releasing` past its deadline), settled from the row.
 */
export class ReservationSweeper {
  private lastBacklogWarning = 0;

  constructor(private readonly options: ReservationSweeperOptions) {}

  async sweep(): Promise<void> {
    await this.settleAbandonedReleases();
    await this.releaseExpired();
  }

  private async releaseExpired(): Promise<void> {
    const { book, reservations, log } = this.options;
    // Candidates first, the backlog after: an order whose message reached the queue before its
    // reservation was seen expired is then in the backlog read below (or already stored and its
    // reservation confirmed). A message slower than that is settled by its intake before any 202
    // (OrderIntake: a slow append asks the row first).
    const candidates = await book.expired(SWEEP_BATCH);
    if (candidates.length === 0) return;
    let backlog: OrderBacklog;
    try {
      backlog = await this.options.backlog();
    } catch (error) {
      if (Date.now() - this.lastBacklogWarning > 60_000) {
        this.lastBacklogWarning = Date.now();
        log.warn({ err: error }, "cannot read the orders backlog; expired reservations wait");
      }
      return;
    }
    if (backlog.pending > 0 || !backlog.deadLettered.complete) return;
    const deadLettered = new Set(backlog.deadLettered.orderIds);
    const expired = candidates.filter((ref) => !deadLettered.has(ref.orderId));
    const released = await reservations.release(expired, "expired");
    if (released.length > 0) log.warn({ released: released.length }, "released expired reservations");
  }

  private async settleAbandonedReleases(): Promise<void> {
    const { book, store, reservations, log } = this.options;
    const stale = await book.staleReleases(SWEEP_BATCH);
    if (stale.length === 0) return;
    const rows = await store.rows(stale.map((ref) => ref.orderId));
    for (const ref of stale) {
      const row = rows.get(ref.orderId);
      // Still live in the record: the release never committed; the book takes it back.
      if (row && row.status !== "released") await book.transition("abort-release", ref);
      await reservations.mirrorRow(ref, row);
    }
    log.warn({ settled: stale.length }, "settled releases abandoned by their process");
  }
}
