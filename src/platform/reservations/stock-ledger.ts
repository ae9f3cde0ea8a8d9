import TinyQueue from "tinyqueue";
import { BloomBits } from "../cache/bloom/bloom-bits.js";
import {
  firstVersionOf,
  holderKey,
  holdersShape,
  OrderIdInUseError,
  type RefusalReason,
  type Reservation,
  type ReservationFence,
  type ReservationRef,
  type ReservationStatus,
  type ReserveRequest,
  type SaleTerms,
  type SettledStock,
  type SkuRecord,
  type StockChange,
  type StockLevels,
  settledOrderKey,
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
  /** Units held per user, live and confirmed: the per-user limit. One entry per buyer of the sale. */
  readonly heldByUser: Map<string, number>;
  /** Who may hold units: every reservation's key, and every confirmed one's order id (see SettledStock). */
  readonly holders: BloomBits;
}

/** A reservation's place in the expiry queue; stale once the reservation changed or left. */
interface ExpiryEntry {
  readonly atMs: number;
  readonly reservation: LedgerReservation;
}

export type LedgerDecision =
  | {
      readonly kind: "reserved";
      readonly reservation: LedgerReservation;
      readonly after: StockChange;
      readonly fence: ReservationFence;
    }
  | { readonly kind: "duplicate"; readonly reservation: LedgerReservation }
  | { readonly kind: "maybe_settled" }
  | {
      readonly kind: "refused";
      readonly reason: RefusalReason;
      readonly available: number;
      readonly version?: number;
    };

export type LedgerTransition =
  | { readonly outcome: "ok"; readonly reservation?: LedgerReservation; readonly change?: StockChange }
  | { readonly outcome: "refused"; readonly reservation: LedgerReservation }
  | { readonly outcome: "settled" }
  | { readonly outcome: "unknown" };

/**
 * The in-process equivalent of the Redis reservation scripts: every check and the decrement happen
 * in one synchronous step, so no two requests can interleave between "is there stock?" and
 * "take it". Order of checks matters: the idempotency key first (a replay must never take stock
 * again), then the sale window, the user's limit, and only then the stock.
 *
 * The ledger is memory only; the inventory writes each change to its database and loads the
 * ledger from those rows at start.
 *
 * It holds what is live, never a sale's history: a confirmed reservation leaves the maps and
 * leaves behind only its units (in the sale's totals and its buyer's holding) and two entries in
 * the sale's holders filter, about 2.4 bytes. Expiry is a queue ordered by deadline and releases
 * in progress a set of their own, so a sweep costs what is due, not what was ever reserved.
 */
export class StockLedger {
  private readonly sales = new Map<string, SaleState>();
  /** Live reservations: reserved, accepted or releasing. */
  private readonly byOrder = new Map<string, LedgerReservation>();
  private readonly byUserKey = new Map<string, LedgerReservation>();
  /**
   * Undecided reservations by expiry. An entry whose reservation changed (accepted, settled,
   * released) is skipped when met; the queue is rebuilt from the live ones once such entries
   * outnumber them, so it stays proportional to what is live whatever the reservations' lifetime.
   */
  private expiry = newExpiryQueue([]);
  private readonly releasing = new Set<LedgerReservation>();

  constructor(private readonly now: () => number = Date.now) {}

  hasSale(sku: string): boolean {
    return this.sales.has(sku);
  }

  epochOf(sku: string): number | undefined {
    return this.sales.get(sku)?.epoch;
  }

  defineSale(terms: SaleTerms, epoch = 1, holders?: BloomBits): void {
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
      holders: holders ?? emptyHolders(terms.stock),
    });
  }

  reserve(request: ReserveRequest, ttlMs: number): LedgerDecision {
    const key = userKey(request.userId, request.idempotencyKey);
    const existing = this.byUserKey.get(key);
    if (existing) return { kind: "duplicate", reservation: existing };
    const sale = this.sales.get(request.sku);
    if (!sale) return { kind: "refused", reason: "no_sale", available: 0 };
    if (!request.settledChecked && sale.holders.test(holderKey(request.userId, request.idempotencyKey))) {
      return { kind: "maybe_settled" };
    }
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
    sale.holders.add([key]);
    sale.version += 1;
    sale.taken += request.quantity;
    return {
      kind: "reserved",
      reservation,
      after: this.change(sale),
      fence: { epoch: sale.epoch, taken: sale.taken },
    };
  }

  transition(
    op: Transition,
    { orderId, sku }: ReservationRef,
    releaseWithinMs = Number.POSITIVE_INFINITY,
  ): LedgerTransition {
    const reservation = this.byOrder.get(orderId);
    if (!reservation) return this.settledOrUnknown(sku, orderId);
    const refused = { outcome: "refused", reservation } as const;
    const sale = this.sales.get(reservation.sku)!;
    switch (op) {
      case "accept":
        if (reservation.status === "accepted") return { outcome: "ok", reservation };
        if (reservation.status !== "reserved") return refused;
        reservation.status = "accepted";
        return { outcome: "ok", reservation };
      case "confirm":
        if (reservation.status === "releasing") return refused;
        this.settle(reservation, sale);
        return { outcome: "ok" };
      case "begin-release":
        if (reservation.status !== "reserved") return refused;
        reservation.status = "releasing";
        reservation.releaseDeadlineMs = this.now() + releaseWithinMs;
        this.releasing.add(reservation);
        return { outcome: "ok", reservation };
      case "abort-release":
        if (reservation.status !== "releasing") return refused;
        reservation.status = "reserved";
        delete reservation.releaseDeadlineMs;
        this.releasing.delete(reservation);
        this.queueExpiry(reservation);
        return { outcome: "ok", reservation };
      case "forget":
        return { outcome: "ok", change: this.drop(reservation, sale) };
    }
  }

  /** See ReservationBook.unsell. */
  unsell(sku: string, userId: string, quantity: number): StockChange | undefined {
    const sale = this.sales.get(sku);
    if (!sale) return undefined;
    sale.sold -= quantity;
    this.releaseHolding(sale, userId, quantity);
    sale.version += 1;
    return this.change(sale);
  }

  private settledOrUnknown(sku: string, orderId: string): LedgerTransition {
    const sale = this.sales.get(sku);
    return sale?.holders.test(settledOrderKey(orderId)) ? { outcome: "settled" } : { outcome: "unknown" };
  }

  /** Confirmed: the units move to `sold`; the reservation itself is let go. */
  private settle(reservation: LedgerReservation, sale: SaleState): void {
    sale.reserved -= reservation.quantity;
    sale.sold += reservation.quantity;
    this.untrack(reservation);
    sale.holders.add([settledOrderKey(reservation.orderId)]);
  }

  private drop(reservation: LedgerReservation, sale: SaleState): StockChange {
    sale.reserved -= reservation.quantity;
    this.releaseHolding(sale, reservation.userId, reservation.quantity);
    this.untrack(reservation);
    sale.version += 1;
    return this.change(sale);
  }

  private releaseHolding(sale: SaleState, userId: string, quantity: number): void {
    const held = (sale.heldByUser.get(userId) ?? 0) - quantity;
    if (held > 0) sale.heldByUser.set(userId, held);
    else sale.heldByUser.delete(userId);
  }

  private untrack(reservation: LedgerReservation): void {
    this.byOrder.delete(reservation.orderId);
    this.byUserKey.delete(userKey(reservation.userId, reservation.idempotencyKey));
    this.releasing.delete(reservation);
  }

  staleReleases(limit: number): LedgerReservation[] {
    const nowMs = this.now();
    const result: LedgerReservation[] = [];
    for (const reservation of this.releasing) {
      if (result.length >= limit) break;
      if ((reservation.releaseDeadlineMs ?? 0) <= nowMs) result.push(reservation);
    }
    return result;
  }

  /**
   * Undecided reservations past their expiry, soonest first. Costs what is due: entries are taken
   * off the queue up to now, the ones still undecided are put back (they stay due until the
   * sweeper settles them), and the rest (accepted, confirmed, released, reloaded) are dropped.
   */
  expired(limit = Number.POSITIVE_INFINITY): LedgerReservation[] {
    const nowMs = this.now();
    const result: LedgerReservation[] = [];
    const keep: ExpiryEntry[] = [];
    while (result.length < limit) {
      const next = this.expiry.peek();
      if (!next || next.atMs > nowMs) break;
      this.expiry.pop();
      const { reservation } = next;
      if (this.byOrder.get(reservation.orderId) !== reservation || reservation.status === "accepted")
        continue;
      // Releasing ones are put back by abort-release, if it comes to that.
      if (reservation.status !== "reserved") continue;
      result.push(reservation);
      keep.push(next);
    }
    for (const entry of keep) this.expiry.push(entry);
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

  holders(sku: string): BloomBits | undefined {
    return this.sales.get(sku)?.holders;
  }

  allLevels(): StockLevels[] {
    return [...this.sales.keys()].map((sku) => this.levels(sku)!);
  }

  /** See ReservationBook.load. */
  load(record: SkuRecord): boolean {
    const current = this.sales.get(record.terms.sku);
    if (current && current.epoch >= record.epoch) return false;
    if (current) {
      // Live reservations only: this is proportional to what is live, not to the sale's history.
      for (const reservation of [...this.byOrder.values()]) {
        if (reservation.sku === record.terms.sku) this.untrack(reservation);
      }
    }
    this.defineSale(record.terms, record.epoch, BloomBits.fromSnapshot(record.settled.holders));
    const sale = this.sales.get(record.terms.sku)!;
    applySettled(sale, record.settled);
    for (const reservation of record.reservations) {
      if (reservation.status === "confirmed")
        throw new RangeError("a SkuRecord's reservations are never confirmed");
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
    sale.reserved += reservation.quantity;
    sale.heldByUser.set(
      reservation.userId,
      (sale.heldByUser.get(reservation.userId) ?? 0) + reservation.quantity,
    );
    this.byOrder.set(reservation.orderId, reservation);
    this.byUserKey.set(userKey(reservation.userId, reservation.idempotencyKey), reservation);
    if (reservation.status === "reserved") this.queueExpiry(reservation);
  }

  private queueExpiry(reservation: LedgerReservation): void {
    if (this.expiry.length > 2 * this.byOrder.size + MIN_EXPIRY_QUEUE) {
      const live = [...this.byOrder.values()].filter((r) => r.status === "reserved" && r !== reservation);
      this.expiry = newExpiryQueue(live.map((r) => ({ atMs: r.expiresAtMs, reservation: r })));
    }
    this.expiry.push({ atMs: reservation.expiresAtMs, reservation });
  }
}

/** Below this many entries the expiry queue is never rebuilt (a rebuild is not worth it). */
const MIN_EXPIRY_QUEUE = 1024;

function newExpiryQueue(entries: ExpiryEntry[]): TinyQueue<ExpiryEntry> {
  return new TinyQueue(entries, (a, b) => a.atMs - b.atMs);
}

function applySettled(sale: SaleState, settled: SettledStock): void {
  sale.sold += settled.sold;
  for (const [userId, units] of settled.heldByUser) {
    sale.heldByUser.set(userId, (sale.heldByUser.get(userId) ?? 0) + units);
  }
}

/** A new sale's holders filter, shaped for its stock. */
function emptyHolders(stock: number): BloomBits {
  return BloomBits.ofShape(holdersShape(stock));
}
