import type { RefusalReason, ReserveRequest, StockLevels, StockTerms } from "./api.js";

/**
 * `releasing`: a release is being written; the units stay held (and the reservation cannot be
 * confirmed) until the write commits, so memory never hands out stock the database still holds.
 */
export type ReservationStatus = "reserved" | "releasing" | "confirmed" | "released";

export interface Reservation {
  readonly orderId: string;
  readonly sku: string;
  readonly userId: string;
  readonly quantity: number;
  readonly idempotencyKey: string;
  status: ReservationStatus;
  readonly reservedAtMs: number;
  readonly expiresAtMs: number;
}

interface SaleState {
  readonly terms: StockTerms;
  readonly startsAtMs: number;
  readonly endsAtMs: number;
  reserved: number;
  sold: number;
  readonly heldByUser: Map<string, number>;
}

export type LedgerDecision =
  | { readonly kind: "reserved"; readonly reservation: Reservation }
  | { readonly kind: "duplicate"; readonly reservation: Reservation }
  | { readonly kind: "refused"; readonly reason: RefusalReason; readonly available: number };

/**
 * The embedded equivalent of the Redis reservation script: every check and the decrement happen
 * in one synchronous step, so no two requests can interleave between "is there stock?" and
 * "take it". Order of checks matters: the idempotency key first (a replay must never take stock
 * again), then the sale window, the user's limit, and only then the stock.
 *
 * The ledger is memory only; the service persists each change before answering and rebuilds the
 * ledger from those rows at start.
 */
export class StockLedger {
  private readonly sales = new Map<string, SaleState>();
  private readonly byOrder = new Map<string, Reservation>();
  private readonly byUserKey = new Map<string, Reservation>();

  defineSale(terms: StockTerms): void {
    this.sales.set(terms.sku, {
      terms,
      startsAtMs: Date.parse(terms.startsAt),
      endsAtMs: Date.parse(terms.endsAt),
      reserved: 0,
      sold: 0,
      heldByUser: new Map(),
    });
  }

  terms(sku: string): StockTerms | undefined {
    return this.sales.get(sku)?.terms;
  }

  reserve(request: ReserveRequest, nowMs: number, ttlMs: number): LedgerDecision {
    const existing = this.byUserKey.get(userKey(request.userId, request.idempotencyKey));
    if (existing) return { kind: "duplicate", reservation: existing };
    const sale = this.sales.get(request.sku);
    if (!sale) return { kind: "refused", reason: "no_sale", available: 0 };
    const available = sale.terms.stock - sale.reserved - sale.sold;
    if (nowMs < sale.startsAtMs || nowMs >= sale.endsAtMs) {
      return { kind: "refused", reason: "sale_not_open", available };
    }
    const held = sale.heldByUser.get(request.userId) ?? 0;
    if (held + request.quantity > sale.terms.perUserLimit) {
      return { kind: "refused", reason: "limit_exceeded", available };
    }
    if (request.quantity > available) return { kind: "refused", reason: "sold_out", available };
    const reservation: Reservation = {
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
    return { kind: "reserved", reservation };
  }

  /** Loads a persisted reservation at start-up (released ones are not loaded). */
  restore(reservation: Reservation): void {
    const sale = this.sales.get(reservation.sku);
    if (!sale)
      throw new Error(`reservation ${reservation.orderId} names SKU ${reservation.sku} with no stock row`);
    this.track(reservation, sale);
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
  beginRelease(orderId: string): Reservation | undefined {
    const reservation = this.byOrder.get(orderId);
    if (reservation?.status !== "reserved") return undefined;
    reservation.status = "releasing";
    return reservation;
  }

  finishRelease(orderId: string): void {
    const reservation = this.byOrder.get(orderId);
    if (reservation?.status === "releasing") this.drop(reservation);
  }

  abortRelease(orderId: string): void {
    const reservation = this.byOrder.get(orderId);
    if (reservation?.status === "releasing") reservation.status = "reserved";
  }

  /** Undoes a reservation whose write failed, as if it never happened. */
  forget(orderId: string): void {
    const reservation = this.byOrder.get(orderId);
    if (reservation) this.drop(reservation);
  }

  private drop(reservation: Reservation): void {
    const sale = this.sales.get(reservation.sku)!;
    if (reservation.status === "confirmed") sale.sold -= reservation.quantity;
    else sale.reserved -= reservation.quantity;
    const held = (sale.heldByUser.get(reservation.userId) ?? 0) - reservation.quantity;
    if (held > 0) sale.heldByUser.set(reservation.userId, held);
    else sale.heldByUser.delete(reservation.userId);
    reservation.status = "released";
    this.byOrder.delete(reservation.orderId);
    this.byUserKey.delete(userKey(reservation.userId, reservation.idempotencyKey));
  }

  expired(nowMs: number): Reservation[] {
    const result: Reservation[] = [];
    for (const reservation of this.byOrder.values()) {
      if (reservation.status === "reserved" && reservation.expiresAtMs <= nowMs) result.push(reservation);
    }
    return result;
  }

  reservation(orderId: string): Reservation | undefined {
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

  allLevels(): StockLevels[] {
    return [...this.sales.keys()].map((sku) => this.levels(sku)!);
  }

  private track(reservation: Reservation, sale: SaleState): void {
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

function userKey(userId: string, idempotencyKey: string): string {
  // A NUL cannot occur in a user id (validated pattern), so the pair is unambiguous.
  return `${userId}\u0000${idempotencyKey}`;
}
