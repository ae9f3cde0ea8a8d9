import type {
  ConfirmOutcome,
  Reservation,
  ReservationBook,
  ReservationRef,
  ReserveDecision,
  ReserveRequest,
  SaleTerms,
  StockChange,
  StockLevels,
} from "./reservation-book.js";
import { type LedgerReservation, StockLedger } from "./stock-ledger.js";

/**
 * The reservation book in this process's memory (embedded mode): fast, but owned by one process,
 * so only one inventory process may use a database with it (the inventory's writer lease).
 */
export class MemoryReservationBook implements ReservationBook {
  readonly shared = false;
  private readonly ledger = new StockLedger();

  async defineSale(terms: SaleTerms): Promise<boolean> {
    if (this.ledger.hasSale(terms.sku)) return false;
    this.ledger.defineSale(terms);
    return true;
  }

  async reserve(request: ReserveRequest, nowMs: number, ttlMs: number): Promise<ReserveDecision> {
    const decision = this.ledger.reserve(request, nowMs, ttlMs);
    if (decision.kind === "refused") return decision;
    return { ...decision, reservation: snapshot(decision.reservation) };
  }

  async confirm(refs: readonly ReservationRef[]): Promise<ConfirmOutcome> {
    const confirmed: Reservation[] = [];
    const notConfirmed: ReservationRef[] = [];
    const beingReleased: ReservationRef[] = [];
    for (const ref of refs) {
      if (this.ledger.confirm(ref.orderId)) confirmed.push(snapshot(this.ledger.reservation(ref.orderId)!));
      else if (this.ledger.reservation(ref.orderId)?.status === "releasing") beingReleased.push(ref);
      else notConfirmed.push(ref);
    }
    return { confirmed, notConfirmed, beingReleased };
  }

  async beginRelease(ref: ReservationRef, deadlineMs: number): Promise<Reservation | undefined> {
    const reservation = this.ledger.beginRelease(ref.orderId, deadlineMs);
    return reservation && snapshot(reservation);
  }

  async staleReleases(nowMs: number, limit: number): Promise<ReservationRef[]> {
    return this.ledger.staleReleases(nowMs, limit).map(({ orderId, sku }) => ({ orderId, sku }));
  }

  async adopt(reservation: Reservation) {
    return this.ledger.adopt(reservation);
  }

  async finishRelease(ref: ReservationRef): Promise<StockChange | undefined> {
    return this.ledger.finishRelease(ref.orderId);
  }

  async abortRelease(ref: ReservationRef): Promise<void> {
    this.ledger.abortRelease(ref.orderId);
  }

  async forget(ref: ReservationRef): Promise<StockChange | undefined> {
    return this.ledger.forget(ref.orderId);
  }

  async expired(nowMs: number, limit: number): Promise<ReservationRef[]> {
    return this.ledger.expired(nowMs, limit).map(({ orderId, sku }) => ({ orderId, sku }));
  }

  async levels(sku: string): Promise<StockLevels | undefined> {
    return this.ledger.levels(sku);
  }

  async userKeys(sku: string): Promise<string[]> {
    return this.ledger.userKeys(sku);
  }

  async allLevels(): Promise<StockLevels[]> {
    return this.ledger.allLevels();
  }

  async restore(terms: SaleTerms, reservations: readonly Reservation[]): Promise<boolean> {
    if (this.ledger.hasSale(terms.sku)) return false;
    // In microseconds, as the Redis book does: above any count the previous process reached.
    this.ledger.defineSale(terms, Date.now() * 1000);
    for (const reservation of reservations) this.ledger.restore(reservation);
    return true;
  }

  async close(): Promise<void> {}
}

/** A copy the caller may keep: the ledger changes its own objects in place. */
function snapshot(reservation: LedgerReservation): Reservation {
  if (reservation.status === "released") throw new Error(`reservation ${reservation.orderId} is released`);
  const { releaseDeadlineMs: _, ...rest } = reservation;
  return { ...rest, status: reservation.status };
}
