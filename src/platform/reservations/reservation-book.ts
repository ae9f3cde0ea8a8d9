/**
 * Reservation book port: limited stock per SKU, reserved atomically against a sale's window, a
 * per-user limit and a per-user idempotency key. Adapters: an in-process ledger (embedded mode,
 * one inventory process) and Redis / Redis Cluster (Lua scripts, shared by many inventory
 * processes). The conformance suite in test/platform/reservations runs against all of them.
 *
 * The book is the fast, shared view of stock; the inventory's database rows are the durable record
 * it is rebuilt from (`restore`) and reconciled against. Every change of what is available (a
 * reservation taken or dropped; not a confirmation) bumps the SKU's `version`, so a broadcast of
 * "sold out" / "back on sale" can be ordered by whoever receives it.
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
}

export type RefusalReason = "no_sale" | "sale_not_open" | "sold_out" | "limit_exceeded";

/**
 * `releasing`: a release is being written to the database; the units stay held (and the
 * reservation cannot be confirmed) until it commits, so the book never hands out stock the
 * database still holds.
 */
export type ReservationStatus = "reserved" | "releasing" | "confirmed";

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
}

/** A SKU's availability after a change, with the version that orders changes. */
export interface StockChange {
  readonly sku: string;
  readonly available: number;
  readonly version: number;
}

export type ReserveDecision =
  | { readonly kind: "reserved"; readonly reservation: Reservation; readonly after: StockChange }
  | { readonly kind: "duplicate"; readonly reservation: Reservation }
  | {
      readonly kind: "refused";
      readonly reason: RefusalReason;
      readonly available: number;
      /** Absent for `no_sale`. */
      readonly version?: number;
    };

export interface ConfirmOutcome {
  readonly confirmed: Reservation[];
  readonly notConfirmed: ReservationRef[];
  readonly beingReleased: ReservationRef[];
}

export interface ReservationBook {
  /** True when several processes may share this book (so no single-writer lease is needed). */
  readonly shared: boolean;
  /** Puts stock on sale; false (and nothing changed) when the SKU already has a sale. */
  defineSale(terms: SaleTerms): Promise<boolean>;
  /** Checks the key, window, user limit and stock, then takes the units: all in one atomic step. */
  reserve(request: ReserveRequest, nowMs: number, ttlMs: number): Promise<ReserveDecision>;
  /**
   * reserved → confirmed (idempotent for confirmed ones). Released or unknown ones come back in
   * `notConfirmed`; those whose release is being written right now in `beingReleased` (ask again
   * shortly: they are about to be gone).
   */
  confirm(refs: readonly ReservationRef[]): Promise<ConfirmOutcome>;
  /**
   * reserved → releasing; undefined when it is not `reserved`. The units stay held. A release
   * neither finished nor aborted by `deadlineMs` (its process died) shows in `staleReleases`.
   */
  beginRelease(ref: ReservationRef, deadlineMs: number): Promise<Reservation | undefined>;
  /** Releases begun whose deadline has passed: the caller settles each from the database. */
  staleReleases(nowMs: number, limit: number): Promise<ReservationRef[]>;
  /**
   * Takes in a live reservation the database holds but the book does not (it lost it), if the
   * stock allows; the window and user limit are not checked again (the order was accepted).
   */
  adopt(reservation: Reservation): Promise<"present" | "adopted" | "no_sale" | "no_stock" | "conflict">;
  /** releasing → gone: the units go back on sale. */
  finishRelease(ref: ReservationRef): Promise<StockChange | undefined>;
  /** releasing → reserved (the release could not be written). */
  abortRelease(ref: ReservationRef): Promise<void>;
  /** Drops a reservation whatever its state, as if it never happened (its write failed). */
  forget(ref: ReservationRef): Promise<StockChange | undefined>;
  /** Reserved (not releasing, not confirmed) reservations whose expiry is at or before `nowMs`. */
  expired(nowMs: number, limit: number): Promise<ReservationRef[]>;
  levels(sku: string): Promise<StockLevels | undefined>;
  /** The user-and-key pairs (`user \0 key`) of a SKU's live reservations. */
  userKeys(sku: string): Promise<string[]>;
  allLevels(): Promise<StockLevels[]>;
  /**
   * Loads a sale and its live reservations from the durable record, only if the book holds
   * nothing for that SKU (a fresh process, or a Redis that lost its data). True when it loaded;
   * false when the book already had the sale (which it then keeps untouched: a difference is
   * drift for reconciliation to report, never something to overwrite).
   */
  restore(terms: SaleTerms, reservations: readonly Reservation[]): Promise<boolean>;
  close(): Promise<void>;
}

/** How a user's idempotency key is named in a book: a NUL cannot occur in a user id (validated). */
export function userKey(userId: string, idempotencyKey: string): string {
  return `${userId}\u0000${idempotencyKey}`;
}
