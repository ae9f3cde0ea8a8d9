import type { BloomSnapshot } from "../cache/bloom/bloom-bits.js";
import { type BloomShape, bloomShape } from "../cache/bloom/bloom-math.js";

/**
 * Reservation book port: limited stock per SKU, reserved atomically against a sale's window, a
 * per-user limit and a per-user idempotency key. Adapters: an in-process ledger (embedded mode,
 * one inventory process) and Redis / Redis Cluster (Lua scripts, shared by many inventory
 * processes). The conformance suite in test/platform/reservations runs against all of them.
 *
 * The book is the fast, shared view of stock; the inventory's database rows are the record. The
 * book may run ahead of the record (a reservation is taken here before its row commits), never
 * behind it: every row write re-checks what the book decided, and a book found behind (a Redis
 * that came back from an older snapshot, or a lagging replica promoted) is replaced wholesale from
 * the record with `load`, under a new epoch.
 *
 * Epochs: each load of a SKU into a book has an epoch, minted by the database (it only grows). A
 * SKU's `version` is `epoch × 2^32 + changes since the load`, so versions keep growing across
 * loads whatever the clocks say, and "sold out" news can be ordered by it. `taken` counts the
 * units reserved since the load; each reservation reports it, so the database can tell when two
 * reservations of one epoch claim the same units (proof that the book went back in time).
 *
 * Time: sale windows and expiries are judged by the book's own clock (Redis `TIME`, or this
 * process's), so every inventory process sharing a book agrees on them.
 */

export interface SaleTerms {
  readonly sku: string;
  readonly stock: number;
  readonly perUserLimit: number;
  /** ISO-8601 instants; the sale is open in [startsAt, endsAt). */
  readonly startsAt: string;
  readonly endsAt: string;
}

export interface ReserveRequest {
  /** The id the order will have; it also names the reservation. */
  readonly orderId: string;
  readonly sku: string;
  readonly userId: string;
  readonly quantity: number;
  /** Scoped to the user: the same user and key never reserve twice (within one SKU's book). */
  readonly idempotencyKey: string;
  /**
   * The caller looked the key up in the record after a `maybe_settled` answer and found no live
   * order under it: the book reserves without asking its filter again.
   */
  readonly settledChecked?: boolean;
}

export type RefusalReason = "no_sale" | "sale_not_open" | "sold_out" | "limit_exceeded";

/**
 * - `reserved`: units held, the order's fate undecided: its intake is appending it, or answered.
 * - `accepted`: an intake other than the one that reserved answered 202 for it (a replay), so it
 *   can no longer be released as not accepted, and it never expires.
 * - `releasing`: a release is being written to the database; the units stay held (and it cannot
 *   be confirmed) until it commits, so the book never hands out stock the database still holds.
 * - `confirmed`: the order is stored.
 */
export type ReservationStatus = "reserved" | "accepted" | "releasing" | "confirmed";

export interface Reservation {
  readonly orderId: string;
  readonly sku: string;
  readonly userId: string;
  readonly quantity: number;
  readonly idempotencyKey: string;
  readonly status: ReservationStatus;
  readonly reservedAtMs: number;
  readonly expiresAtMs: number;
}

/** Names a reservation: Redis Cluster keeps a SKU's reservations in the SKU's slot. */
export interface ReservationRef {
  readonly orderId: string;
  readonly sku: string;
}

export interface StockLevels {
  readonly sku: string;
  readonly stock: number;
  /** Units still for sale. */
  readonly available: number;
  /** Held for accepted orders not yet stored. */
  readonly reserved: number;
  /** Held for stored orders. */
  readonly sold: number;
  /** The load this state descends from (see the file comment). */
  readonly epoch: number;
}

/** A SKU's availability after a change, with the version that orders changes. */
export interface StockChange {
  readonly sku: string;
  readonly available: number;
  readonly version: number;
}

/** Where a new reservation stands in its SKU's epoch: what the database checks it against. */
export interface ReservationFence {
  readonly epoch: number;
  /** Units reserved in this epoch up to and including this reservation. */
  readonly taken: number;
}

export type ReserveDecision =
  | {
      readonly kind: "reserved";
      readonly reservation: Reservation;
      readonly after: StockChange;
      readonly fence: ReservationFence;
    }
  | { readonly kind: "duplicate"; readonly reservation: Reservation }
  /**
   * The key names no reservation the book holds, but its SKU's holders filter says it may have
   * named one that has since settled (confirmed, and no longer held here): only the record can
   * tell. The caller looks it up and, if it finds nothing, reserves again with `settledChecked`.
   */
  | { readonly kind: "maybe_settled" }
  | {
      readonly kind: "refused";
      readonly reason: RefusalReason;
      readonly available: number;
      /** Absent for `no_sale`. */
      readonly version?: number;
    };

/**
 * Moves a reservation to the state its database row now has (the row decides; the book follows):
 * - `accept`: reserved → accepted.
 * - `confirm`: reserved | accepted → settled: the book keeps its units in `sold` and its user's
 *   holding, and lets go of the reservation itself (its key and order id go into the SKU's holders
 *   filter). Memory and Redis hold what is live, never the history of a sale.
 * - `begin-release`: reserved → releasing; the units stay held. A release neither finished nor
 *   aborted by its deadline (its process died) shows in `staleReleases`.
 * - `abort-release`: releasing → what it was before.
 * - `forget`: any → gone, its units back on sale (its row was released, or never written).
 */
export type Transition = "accept" | "confirm" | "begin-release" | "abort-release" | "forget";

/**
 * - `ok`: done; `reservation` is its state after (absent once gone or settled), `change` is set
 *   when what is available changed.
 * - `refused`: its state does not allow that; `reservation` is its state now.
 * - `settled`: the book no longer holds it because it was confirmed (by its holders filter: a false
 *   positive is possible, at the filter's rate). Confirming or accepting it again changes nothing;
 *   a release of its row gives its units back with `unsell`.
 * - `unknown`: the book has no such reservation.
 */
export type TransitionResult =
  | { readonly outcome: "ok"; readonly reservation?: Reservation; readonly change?: StockChange }
  | { readonly outcome: "refused"; readonly reservation: Reservation }
  | { readonly outcome: "settled" }
  | { readonly outcome: "unknown" };

/** What `load` puts into a book for one SKU: the sale, its live reservations and what has settled, as the record has them. */
export interface SkuRecord {
  readonly terms: SaleTerms;
  readonly epoch: number;
  /** Undecided and accepted reservations (never `confirmed`, never `releasing`). */
  readonly reservations: readonly Reservation[];
  /** What confirmed reservations hold, as totals: the book keeps no confirmed reservation. */
  readonly settled: SettledStock;
}

export interface SettledStock {
  /** Units of confirmed reservations. */
  readonly sold: number;
  /** Units of confirmed reservations per user, for the per-user limit. */
  readonly heldByUser: ReadonlyMap<string, number>;
  /**
   * The SKU's holders filter: every live and confirmed reservation's `holderKey` and every
   * confirmed one's `settledOrderKey`, shaped by `holdersShape(terms.stock)`.
   */
  readonly holders: BloomSnapshot;
}

/**
 * The holders filter's shape for a sale of `stock` units: room for a key and an order id per unit
 * (each reservation takes at least one) at a 1 % false-positive rate, about 2.4 bytes a unit. A
 * sale that outgrows it (units returned and sold again) only sees more false positives, each of
 * which costs one lookup in the record, never a wrong answer.
 */
export function holdersShape(stock: number): BloomShape {
  return bloomShape(Math.max(1024, Math.min(2 * stock, MAX_HOLDERS)), HOLDERS_FALSE_POSITIVE_RATE);
}

const HOLDERS_FALSE_POSITIVE_RATE = 0.01;
/** 2^27 entries: a 160 MB filter; beyond it the rate degrades instead of memory growing. */
const MAX_HOLDERS = 2 ** 27;

/** A reservation's user-and-key pair as the holders filter and the sold-out news name it. */
export function holderKey(userId: string, idempotencyKey: string): string {
  return userKey(userId, idempotencyKey);
}

/** A settled (confirmed) reservation's order id as the holders filter names it. */
export function settledOrderKey(orderId: string): string {
  return `\u0000order\u0000${orderId}`;
}

export interface ReservationBook {
  /** True when several processes may share this book (so no single-writer lease is needed). */
  readonly shared: boolean;
  /** Puts stock on sale at epoch 1; false (and nothing changed) when the SKU already has a sale. */
  defineSale(terms: SaleTerms): Promise<boolean>;
  /**
   * Checks the key, window, user limit and stock, then takes the units: all in one atomic step.
   * Refuses to reuse an order id that already names a reservation (throws). The reservation
   * expires `ttlMs` after the book's now.
   */
  reserve(request: ReserveRequest, ttlMs: number): Promise<ReserveDecision>;
  /**
   * See `Transition`. For `begin-release`, `releaseWithinMs` is how long (by the book's clock) the
   * release may take before `staleReleases` reports it as abandoned.
   */
  transition(op: Transition, ref: ReservationRef, releaseWithinMs?: number): Promise<TransitionResult>;
  /** The reservation as the book holds it. */
  get(ref: ReservationRef): Promise<Reservation | undefined>;
  /** Releases begun whose deadline has passed (by the book's clock): the caller settles each from the record. */
  staleReleases(limit: number): Promise<ReservationRef[]>;
  /** `reserved` reservations (not accepted, releasing or confirmed) whose expiry has passed by the book's clock. */
  expired(limit: number): Promise<ReservationRef[]>;
  /**
   * A confirmed reservation the book no longer holds (`settled`) was released by the record (a
   * cancelled paid order): its units go back on sale and its user's holding shrinks. Called once
   * per released row. Undefined when the book has no such sale.
   */
  unsell(ref: ReservationRef, holder: { userId: string; quantity: number }): Promise<StockChange | undefined>;
  levels(sku: string): Promise<StockLevels | undefined>;
  /**
   * The SKU's holders filter (see `SettledStock.holders`), maintained as reservations are made:
   * who may hold its units, for the sold-out news. Undefined when the book has no such sale.
   */
  holders(sku: string): Promise<BloomSnapshot | undefined>;
  allLevels(): Promise<StockLevels[]>;
  /**
   * Replaces whatever the book holds for the SKU with `record`, unless the book already holds that
   * epoch or a later one (another process loaded it first). True when it loaded.
   */
  load(record: SkuRecord): Promise<boolean>;
  close(): Promise<void>;
}

/** How a user's idempotency key is named in a book: a NUL cannot occur in a user id (validated). */
export function userKey(userId: string, idempotencyKey: string): string {
  return `${userId}\u0000${idempotencyKey}`;
}

/** Versions are `epoch × 2^32 + changes`: exact in a double up to epoch 2^21. */
export const VERSION_EPOCH_FACTOR = 2 ** 32;

/** A SKU's first version in an epoch. */
export function firstVersionOf(epoch: number): number {
  return epoch * VERSION_EPOCH_FACTOR;
}

/** Thrown when a reserve names an order id that already has a reservation: ids are never reused. */
export class OrderIdInUseError extends Error {
  override readonly name = "OrderIdInUseError";
  readonly code = "order_id_in_use";

  constructor(readonly orderId: string) {
    super(`order id ${orderId} already names a reservation`);
  }
}
