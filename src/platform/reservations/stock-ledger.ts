import {
  firstVersionOf,
  OrderIdInUseError,
  type RefusalReason,
  type Reservation,
  type ReservationFence,
  type ReservationStatus,
  type ReserveRequest,
  type SaleTerms,
  type SkuRecord,
  type StockChange,
  type StockLevels,
  type Transition,
  userKey,
} from "./reservation-book.js";

/** A reservation as the ledger holds it: its status changes in place. */
export type LedgerReservation = Omit<Reservation, "status"> & {
  status: ReservationStatus;
  /** While `releasing`: when the release counts as abandoned. */
  releaseDeadlineMs?: number;
};

interface SaleState {
  readonly terms: SaleTerms;
  readonly startsAtMs: number;
  readonly endsAtMs: number;
  readonly epoch: number;
  reserved: number;
  sold: number;
  version: number;
  /** Units reserved since this epoch's load. */
  taken: number;
  readonly heldByUser: Map<string, number>;
}

export type LedgerDecision =
  | {
      readonly kind: "reserved";
      readonly reservation: LedgerReservation;
      readonly after: StockChange;
      readonly fence: ReservationFence;
    }
  | { readonly kind: "duplicate"; readonly reservation: LedgerReservation }
  | {
      readonly kind: "refused";
      readonly reason: RefusalReason;
      readonly available: number;
      readonly version?: number;
    };

export type LedgerTransition =
  | { readonly outcome: "ok"; readonly reservation?: LedgerReservation; readonly change?: StockChange }
  | { readonly outcome: "refused"; readonly reservation: LedgerReservation }
  | { readonly outcome: "unknown" };

/**
 * The in-process equivalent of the Redis reservation scripts: every check and the decrement happen
 * in one synchronous step, so no two requests can interleave between "is there stock?" and
 * "take it". Order of checks matters: the idempotency key first (a replay must never take stock
 * again), then the sale window, the user's limit, and only then the stock.
 *
 * The ledger is memory only; the inventory writes each change to its database and loads the
 * ledger from those rows at start.
 */
export class StockLedger {
  private readonly sales = new Map<string, SaleState>();
  private readonly byOrder = new Map<string, LedgerReservation>();
  private readonly byUserKey = new Map<string, LedgerReservation>();

  constructor(private readonly now: () => number = Date.now) {}

  hasSale(sku: string): boolean {
    return this.sales.has(sku);
  }

  epochOf(sku: string): number | undefined {
    return this.sales.get(sku)?.epoch;
  }

  defineSale(terms: SaleTerms, epoch = 1): void {
    this.sales.set(terms.sku, {
      terms,
      startsAtMs: Date.parse(terms.startsAt),
      endsAtMs: Date.parse(terms.endsAt),
      epoch,
      reserved: 0,
      sold: 0,
      version: firstVersionOf(epoch),
      taken: 0,
      heldByUser: new Map(),
    });
  }

  reserve(request: ReserveRequest, ttlMs: number): LedgerDecision {
    const existing = this.byUserKey.get(userKey(request.userId, request.idempotencyKey));
    if (existing) return { kind: "duplicate", reservation: existing };
    const sale = this.sales.get(request.sku);
    if (!sale) return { kind: "refused", reason: "no_sale", available: 0 };
    const available = sale.terms.stock - sale.reserved - sale.sold;
    const { version } = sale;
    const nowMs = this.now();
    if (nowMs < sale.startsAtMs || nowMs >= sale.endsAtMs) {
      return { kind: "refused", reason: "sale_not_open", available, version };
    }
    const held = sale.heldByUser.get(request.userId) ?? 0;
    if (held + request.quantity > sale.terms.perUserLimit) {
      return { kind: "refused", reason: "limit_exceeded", available, version };
    }
    if (request.quantity > available) return { kind: "refused", reason: "sold_out", available, version };
    if (this.byOrder.has(request.orderId)) throw new OrderIdInUseError(request.orderId);
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
    sale.taken += request.quantity;
    return {
      kind: "reserved",
      reservation,
      after: this.change(sale),
      fence: { epoch: sale.epoch, taken: sale.taken },
    };
  }

  transition(op: Transition, orderId: string, releaseWithinMs = Number.POSITIVE_INFINITY): LedgerTransition {
    const reservation = this.byOrder.get(orderId);
    if (!reservation) return { outcome: "unknown" };
    const refused = { outcome: "refused", reservation } as const;
    const sale = this.sales.get(reservation.sku)!;
    switch (op) {
      case "accept":
        if (reservation.status === "accepted" || reservation.status === "confirmed")
          return { outcome: "ok", reservation };
        if (reservation.status !== "reserved") return refused;
        reservation.status = "accepted";
        return { outcome: "ok", reservation };
      case "confirm":
        if (reservation.status === "confirmed") return { outcome: "ok", reservation };
        if (reservation.status === "releasing") return refused;
        sale.reserved -= reservation.quantity;
        sale.sold += reservation.quantity;
        reservation.status = "confirmed";
        return { outcome: "ok", reservation };
      case "begin-release":
        if (reservation.status !== "reserved") return refused;
        reservation.status = "releasing";
        reservation.releaseDeadlineMs = this.now() + releaseWithinMs;
        return { outcome: "ok", reservation };
      case "abort-release":
        if (reservation.status !== "releasing") return refused;
        reservation.status = "reserved";
        delete reservation.releaseDeadlineMs;
        return { outcome: "ok", reservation };
      case "forget":
        return { outcome: "ok", change: this.drop(reservation, sale) };
    }
  }

  private drop(reservation: LedgerReservation, sale: SaleState): StockChange {
    if (reservation.status === "confirmed") sale.sold -= reservation.quantity;
    else sale.reserved -= reservation.quantity;
    const held = (sale.heldByUser.get(reservation.userId) ?? 0) - reservation.quantity;
    if (held > 0) sale.heldByUser.set(reservation.userId, held);
    else sale.heldByUser.delete(reservation.userId);
    this.byOrder.delete(reservation.orderId);
    this.byUserKey.delete(userKey(reservation.userId, reservation.idempotencyKey));
    sale.version += 1;
    return this.change(sale);
  }

  staleReleases(limit: number): LedgerReservation[] {
    const nowMs = this.now();
    const result: LedgerReservation[] = [];
    for (const reservation of this.byOrder.values()) {
      if (result.length >= limit) break;
      if (reservation.status === "releasing" && (reservation.releaseDeadlineMs ?? 0) <= nowMs) {
        result.push(reservation);
      }
    }
    return result;
  }

  expired(limit = Number.POSITIVE_INFINITY): LedgerReservation[] {
    const nowMs = this.now();
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
      epoch: sale.epoch,
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

  /** See ReservationBook.load. */
  load(record: SkuRecord): boolean {
    const current = this.sales.get(record.terms.sku);
    if (current && current.epoch >= record.epoch) return false;
    if (current) {
      for (const reservation of [...this.byOrder.values()]) {
        if (reservation.sku === record.terms.sku) {
          this.byOrder.delete(reservation.orderId);
          this.byUserKey.delete(userKey(reservation.userId, reservation.idempotencyKey));
        }
      }
    }
    this.defineSale(record.terms, record.epoch);
    const sale = this.sales.get(record.terms.sku)!;
    for (const reservation of record.reservations) {
      this.track(
        { ...reservation, status: reservation.status === "releasing" ? "reserved" : reservation.status },
        sale,
      );
    }
    return true;
  }

  private change(sale: SaleState): StockChange {
    return {
      sku: sale.terms.sku,
      available: sale.terms.stock - sale.reserved - sale.sold,
      version: sale.version,
    };
  }

  private track(reservation: LedgerReservation, sale: SaleState): void {
    if (reservation.status === "confirmed") sale.sold += reservation.quantity;
    else sale.reserved += reservation.quantity;
    sale.heldByUser.set(
      reservation.userId,
      (sale.heldByUser.get(reservation.userId) ?? 0) + reservation.quantity,
    );
    this.byOrder.set(reservation.orderId, reservation);
    this.byUserKey.set(userKey(reservation.userId, reservation.idempotencyKey), reservation);
  }
}
