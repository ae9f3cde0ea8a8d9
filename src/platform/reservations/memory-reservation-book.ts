import type { BloomSnapshot } from "../cache/bloom/bloom-bits.js";
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
} from "./reservation-book.js";
import { type LedgerReservation, StockLedger } from "./stock-ledger.js";

/**
 * The reservation book in this process's memory (embedded mode): fast, but owned by one process,
 * so only one inventory process may use a database with it (the inventory's writer lease).
 */
export class MemoryReservationBook implements ReservationBook {
  readonly shared = false;
  private readonly ledger: StockLedger;

  /** `now`: the book's clock (tests pass their own). */
  constructor(now: () => number = Date.now) {
    this.ledger = new StockLedger(now);
  }

  async defineSale(terms: SaleTerms): Promise<boolean> {
    if (this.ledger.hasSale(terms.sku)) return false;
    this.ledger.defineSale(terms);
    return true;
  }

  async reserve(request: ReserveRequest, ttlMs: number): Promise<ReserveDecision> {
    const decision = this.ledger.reserve(request, ttlMs);
    if (decision.kind === "refused" || decision.kind === "maybe_settled") return decision;
    return { ...decision, reservation: snapshot(decision.reservation) };
  }

  async transition(op: Transition, ref: ReservationRef, releaseWithinMs?: number): Promise<TransitionResult> {
    const result = this.ledger.transition(op, ref, releaseWithinMs);
    if (result.outcome === "unknown" || result.outcome === "settled") return result;
    if (result.outcome === "refused")
      return { outcome: "refused", reservation: snapshot(result.reservation) };
    return {
      outcome: "ok",
      ...(result.reservation && this.ledger.reservation(ref.orderId)
        ? { reservation: snapshot(result.reservation) }
        : {}),
      ...(result.change ? { change: result.change } : {}),
    };
  }

  async get(ref: ReservationRef): Promise<Reservation | undefined> {
    const reservation = this.ledger.reservation(ref.orderId);
    return reservation && snapshot(reservation);
  }

  async staleReleases(limit: number): Promise<ReservationRef[]> {
    return this.ledger.staleReleases(limit).map(refOf);
  }

  async expired(limit: number): Promise<ReservationRef[]> {
    return this.ledger.expired(limit).map(refOf);
  }

  async levels(sku: string): Promise<StockLevels | undefined> {
    return this.ledger.levels(sku);
  }

  async unsell(
    ref: ReservationRef,
    holder: { userId: string; quantity: number },
  ): Promise<StockChange | undefined> {
    return this.ledger.unsell(ref.sku, holder.userId, holder.quantity);
  }

  async holders(sku: string): Promise<BloomSnapshot | undefined> {
    return this.ledger.holders(sku)?.snapshot();
  }

  async allLevels(): Promise<StockLevels[]> {
    return this.ledger.allLevels();
  }

  async load(record: SkuRecord): Promise<boolean> {
    return this.ledger.load(record);
  }

  async close(): Promise<void> {}
}

function refOf({ orderId, sku }: LedgerReservation): ReservationRef {
  return { orderId, sku };
}

/** A copy the caller may keep: the ledger changes its own objects in place. */
function snapshot(reservation: LedgerReservation): Reservation {
  const { releaseDeadlineMs: _, ...rest } = reservation;
  return { ...rest };
}
