import type {
  RefusalReason,
  Reservation,
  ReservationStatus,
  ReserveRequest,
  SaleTerms,
  StockChange,
  StockLevels,
} from "./reservation-book.js";
import { userKey } from "./reservation-book.js";

/** A reservation as the ledger holds it: its status changes in place. */
export type LedgerReservation = Omit<Reservation, "status"> & {
  status: ReservationStatus | "released";
  /** While `releasing`: when the release counts as abandoned. */
  releaseDeadlineMs?: number;
};

interface SaleState {
  readonly terms: SaleTerms;
  readonly startsAtMs: number;
  readonly endsAtMs: number;
  reserved: number;
  sold: number;
  version: number;
  readonly heldByUser: Map<string, number>;
}

export type LedgerDecision =
  | { readonly kind: "reserved"; readonly reservation: LedgerReservation; readonly after: StockChange }
  | { readonly kind: "duplicate"; readonly reservation: LedgerReservation }
  | {
      readonly kind: "refused";
      readonly reason: RefusalReason;
      readonly available: number;
      readonly version?: number;
    };

/**
 * The in-process equivalent of the Redis reservation script: every check and the decrement happen
 * in one synchronous step, so no two requests can interleave between "is there stock?" and
 * "take it". Order of checks matters: the idempotency key first (a replay must never take stock
 * again), then the sale window, the user's limit, and only then the stock.
 *
 * The ledger is memory only; the inventory persists each change before answering and rebuilds the
 * ledger from those rows at start.
 */
export class StockLedger {
  private readonly sales = new Map<string, SaleState>();
  private readonly byOrder = new Map<string, LedgerReservation>();
  private readonly byUserKey = new Map<string, LedgerReservation>();

  hasSale(sku: string): boolean {
    return this.sales.has(sku);
  }

  /** `version`: where the SKU's change counter starts (a restore starts above any earlier one). */
  defineSale(terms: SaleTerms, version = 0): void {
    this.sales.set(terms.sku, {
      terms,
      startsAtMs: Date.parse(terms.startsAt),
      endsAtMs: Date.parse(terms.endsAt),
      reserved: 0,
      sold: 0,
      version,
      heldByUser: new Map(),
    });
  }

  reserve(request: ReserveRequest, nowMs: number, ttlMs: number): LedgerDecision {
    const existing = this.byUserKey.get(userKey(request.userId, request.idempotencyKey));
    if (existing) return { kind: "duplicate", reservation: existing };
    const sale = this.sales.get(request.sku);
    if (!sale) return { kind: "refused", reason: "no_sale", available: 0 };
    const available = sale.terms.stock - sale.reserved - sale.sold;
    const { version } = sale;
    if (nowMs < sale.startsAtMs || nowMs >= sale.endsAtMs) {
      return { kind: "refused", reason: "sale_not_open", available, version };
    }
    const held = sale.heldByUser.get(request.userId) ?? 0;
    if (held + request.quantity > sale.terms.perUserLimit) {
      return { kind: "refused", reason: "limit_exceeded", available, version };
    }
    if (request.quantity > available) return { kind: "refused", reason: "sold_out", available, version };
    const reservation: LedgerReservation = {
      orderId: request.orderId,
      sku: request.sku,
      userId: request.userId,
      quantity: request.quantity,
      idempotencyKey: request.idempotencyKey,
      status: "reserved",
      reservedAtMs: nowMs,
      expiresAtMs: nowMs + ttlMs,
    };
    this.track(reservation, sale);
    sale.version += 1;
    return { kind: "reserved", reservation, after: this.change(sale) };
  }

  /** Loads a persisted reservation at start-up (released ones are not loaded). */
  restore(reservation: Reservation): void {
    const sale = this.sales.get(reservation.sku);
    if (!sale)
      throw new Error(`reservation ${reservation.orderId} names SKU ${reservation.sku} with no stock row`);
    this.track({ ...reservation }, sale);
  }

  /** Moves reserved → confirmed. False when the reservation is being released, released or unknown. */
  confirm(orderId: string): boolean {
    const reservation = this.byOrder.get(orderId);
    if (!reservation || reservation.status === "releasing") return false;
    if (reservation.status === "confirmed") return true;
    const sale = this.sales.get(reservation.sku)!;
    sale.reserved -= reservation.quantity;
    sale.sold += reservation.quantity;
    reservation.status = "confirmed";
    return true;
  }

  /**
   * First step of a release: marks a reserved (not confirmed) reservation `releasing`. Its units
   * stay held until `finishRelease`, after the release is durable; `abortRelease` undoes it.
   */
  beginRelease(orderId: string, deadlineMs = Number.POSITIVE_INFINITY): LedgerReservation | undefined {
    const reservation = this.byOrder.get(orderId);
    if (reservation?.status !== "reserved") return undefined;
    reservation.status = "releasing";
    reservation.releaseDeadlineMs = deadlineMs;
    return reservation;
  }

  staleReleases(nowMs: number, limit: number): LedgerReservation[] {
    const result: LedgerReservation[] = [];
    for (const reservation of this.byOrder.values()) {
      if (result.length >= limit) break;
      if (reservation.status === "releasing" && (reservation.releaseDeadlineMs ?? 0) <= nowMs) {
        result.push(reservation);
      }
    }
    return result;
  }

  /** See ReservationBook.adopt. */
  adopt(reservation: Reservation): "present" | "adopted" | "no_sale" | "no_stock" | "conflict" {
    if (this.byOrder.has(reservation.orderId)) return "present";
    const sale = this.sales.get(reservation.sku);
    if (!sale) return "no_sale";
    if (reservation.quantity > sale.terms.stock - sale.reserved - sale.sold) return "no_stock";
    if (this.byUserKey.has(userKey(reservation.userId, reservation.idempotencyKey))) return "conflict";
    this.track({ ...reservation }, sale);
    sale.version += 1;
    return "adopted";
  }

  finishRelease(orderId: string): StockChange | undefined {
    const reservation = this.byOrder.get(orderId);
    return reservation?.status === "releasing" ? this.drop(reservation) : undefined;
  }

  abortRelease(orderId: string): void {
    const reservation = this.byOrder.get(orderId);
    if (reservation?.status === "releasing") reservation.status = "reserved";
  }

  /** Undoes a reservation whose write failed, as if it never happened. */
  forget(orderId: string): StockChange | undefined {
    const reservation = this.byOrder.get(orderId);
    return reservation ? this.drop(reservation) : undefined;
  }

  private drop(reservation: LedgerReservation): StockChange {
    const sale = this.sales.get(reservation.sku)!;
    if (reservation.status === "confirmed") sale.sold -= reservation.quantity;
    else sale.reserved -= reservation.quantity;
    const held = (sale.heldByUser.get(reservation.userId) ?? 0) - reservation.quantity;
    if (held > 0) sale.heldByUser.set(reservation.userId, held);
    else sale.heldByUser.delete(reservation.userId);
    reservation.status = "released";
    this.byOrder.delete(reservation.orderId);
    this.byUserKey.delete(userKey(reservation.userId, reservation.idempotencyKey));
    sale.version += 1;
    return this.change(sale);
  }

  expired(nowMs: number, limit = Number.POSITIVE_INFINITY): LedgerReservation[] {
    const result: LedgerReservation[] = [];
    for (const reservation of this.byOrder.values()) {
      if (result.length >= limit) break;
      if (reservation.status === "reserved" && reservation.expiresAtMs <= nowMs) result.push(reservation);
    }
    return result;
  }

  reservation(orderId: string): LedgerReservation | undefined {
    return this.byOrder.get(orderId);
  }

  levels(sku: string): StockLevels | undefined {
    const sale = this.sales.get(sku);
    if (!sale) return undefined;
    const { stock } = sale.terms;
    return {
      sku,
      stock,
      available: stock - sale.reserved - sale.sold,
      reserved: sale.reserved,
      sold: sale.sold,
    };
  }

  userKeys(sku: string): string[] {
    const keys: string[] = [];
    for (const [key, reservation] of this.byUserKey) if (reservation.sku === sku) keys.push(key);
    return keys;
  }

  allLevels(): StockLevels[] {
    return [...this.sales.keys()].map((sku) => this.levels(sku)!);
  }

  private change(sale: SaleState): StockChange {
    return {
      sku: sale.terms.sku,
      available: sale.terms.stock - sale.reserved - sale.sold,
      version: sale.version,
    };
  }

  private track(reservation: LedgerReservation, sale: SaleState): void {
    if (reservation.status === "reserved") sale.reserved += reservation.quantity;
    else sale.sold += reservation.quantity;
    sale.heldByUser.set(
      reservation.userId,
      (sale.heldByUser.get(reservation.userId) ?? 0) + reservation.quantity,
    );
    this.byOrder.set(reservation.orderId, reservation);
    this.byUserKey.set(userKey(reservation.userId, reservation.idempotencyKey), reservation);
  }
}
