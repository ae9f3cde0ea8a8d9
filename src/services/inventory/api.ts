/** The inventory's contract with other services (in-process or over HTTP). */
import type { BloomSnapshot } from "../../platform/cache/bloom/bloom-bits.js";
import type {
  StockLevels as BookLevels,
  RefusalReason,
  ReservationRef,
  ReserveRequest,
  SaleTerms,
} from "../../platform/reservations/reservation-book.js";

export type { RefusalReason, ReservationRef, ReserveRequest };

/** A SKU's stock as other services see it (the book's epoch is the inventory's own business). */
export type StockLevels = Omit<BookLevels, "epoch">;
export type StockTerms = SaleTerms;

export type ReserveResult =
  | {
      readonly outcome: "reserved";
      readonly orderId: string;
      /** Units left and the stock version after this reservation (orders "sold out" news). */
      readonly available: number;
      readonly version: number;
    }
  /** The user already used this key: the first reservation's order, with what it asked for. */
  | {
      readonly outcome: "duplicate";
      readonly orderId: string;
      readonly sku: string;
      readonly quantity: number;
      /**
       * - `accepted`: an intake answered 202 for it, or it is stored: the order stands.
       * - `undecided`: its intake is still appending it, or died doing so: the caller appends it
       *   again and then `settle`s it as accepted before answering 202.
       * - `releasing`: it is being released as not accepted (or expired); retry shortly.
       */
      readonly state: "accepted" | "undecided" | "releasing";
      readonly reservedAt: string;
    }
  | {
      readonly outcome: "refused";
      readonly reason: RefusalReason;
      readonly available: number;
      /** The SKU's stock version the refusal was decided at (orders "sold out" news). */
      readonly version?: number;
    };

/** A live reservation, as seen by the order it was made for. */
export interface ReservationView {
  readonly orderId: string;
  readonly sku: string;
  readonly userId: string;
  readonly quantity: number;
  readonly status: "reserved" | "accepted" | "confirmed";
  readonly reservedAt: string;
}

/** One SKU where live stock and the database of record disagree. */
export interface StockDrift {
  readonly sku: string;
  /** What the live book (memory or Redis) holds. */
  readonly live: { readonly stock: number; readonly reserved: number; readonly sold: number } | null;
  /** What the database rows hold. */
  readonly recorded: { readonly stock: number; readonly reserved: number; readonly sold: number } | null;
  /** When this difference was first seen; it is reported once seen on two checks in a row. */
  readonly since: string;
}

export interface ReconciliationReport {
  readonly checkedAt: string;
  readonly skus: number;
  /** Differences seen on two consecutive checks (one alone may be a write in flight). */
  readonly drift: readonly StockDrift[];
}

/** Published on the broadcast channel STOCK_AVAILABILITY_CHANNEL when a SKU sells out or comes back. */
export interface StockAvailability {
  readonly sku: string;
  readonly available: number;
  readonly version: number;
  /**
   * When sold out: a Bloom filter of the `user \0 key` pairs holding its reservations, so an
   * intake can refuse a keyed request that is surely not a replay without asking anyone.
   */
  readonly holders?: BloomSnapshot;
}

export const STOCK_AVAILABILITY_CHANNEL = "stock.availability";

/** Why stock goes back on sale. */
export type ReleaseReason = "not_accepted" | "expired" | "cancelled";

/** What an intake decided about a reservation it answered for (see `InventoryApi.settle`). */
export type SettleDecision = "accept" | "reject";

export interface InventoryApi {
  defineStock(input: StockTerms): Promise<StockLevels>;
  /**
   * Changes a running sale: more or less stock (never below what is sold or reserved) and/or its
   * end (in the past ends it now). Every process selling it sees the new terms at once: the
   * change fences the book's state, which is loaded again with them.
   */
  changeSale(input: { sku: string; stock?: number; endsAt?: string }): Promise<{
    before: StockTerms;
    after: StockTerms;
    levels: StockLevels;
  }>;
  reserve(input: ReserveRequest): Promise<ReserveResult>;
  /**
   * The one place an undecided reservation's fate is decided, by a conditional update of its row:
   * - `accept`: an intake appended the order and is about to answer 202 (a replay with the same
   *   key): from then on it can never be released as not accepted;
   * - `reject`: the intake that reserved could not append it and is about to answer 503.
   * Whichever comes first stands; the answer is the outcome that stands (`accepted` when a
   * worker already stored the order). Throws when it cannot tell (the caller must then say so).
   */
  settle(input: { orderId: string; sku: string; decision: SettleDecision }): Promise<{
    outcome: "accepted" | "rejected";
  }>;
  /**
   * Returns stock to the sale (expiry, cancellation); ids not in a state that reason may release
   * (already released, accepted, confirmed, unknown) are left alone.
   */
  release(input: {
    reservations: readonly ReservationRef[];
    reason: ReleaseReason;
  }): Promise<{ released: string[] }>;
  /**
   * Marks reservations as sold, for orders about to be stored. `notConfirmed`: released, or never
   * written: their orders must not be stored (no buyer was told 202 for them).
   */
  confirm(input: { reservations: readonly ReservationRef[] }): Promise<{
    confirmed: string[];
    notConfirmed: string[];
  }>;
  levels(input: { sku: string }): Promise<StockLevels | null>;
  /** The live reservation made for an order, or null (never made, or released). */
  reservation(input: { orderId: string }): Promise<ReservationView | null>;
  /** Compares live stock with the database of record now; never changes either. */
  reconcile(input: Record<string, never>): Promise<ReconciliationReport>;
}

export const INVENTORY_OPERATIONS = [
  "defineStock",
  "changeSale",
  "reserve",
  "settle",
  "release",
  "confirm",
  "levels",
  "reservation",
  "reconcile",
] as const satisfies readonly (keyof InventoryApi)[];
