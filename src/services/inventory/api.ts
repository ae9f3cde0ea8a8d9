/** The inventory's contract with other services (in-process or over HTTP). */
import type { BloomSnapshot } from "../../platform/cache/bloom/memory-bloom-filter.js";
import type {
  RefusalReason,
  ReservationRef,
  ReserveRequest,
  SaleTerms,
  StockLevels,
} from "../../platform/reservations/reservation-book.js";

export type { RefusalReason, ReservationRef, ReserveRequest, StockLevels };
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
      /** True once the order is stored; until then the caller re-appends it (the first append may be lost). */
      readonly stored: boolean;
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
  readonly status: "reserved" | "confirmed";
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

export interface InventoryApi {
  defineStock(input: StockTerms): Promise<StockLevels>;
  reserve(input: ReserveRequest): Promise<ReserveResult>;
  /**
   * Returns stock to the sale; ids already released, confirmed or unknown are ignored.
   * `not_accepted`: the intake told the buyer 503 (its append failed, though it may have landed).
   */
  release(input: {
    reservations: readonly ReservationRef[];
    reason: ReleaseReason;
  }): Promise<{ released: string[] }>;
  /**
   * Marks reservations as sold, for orders about to be stored. The others:
   * - `notConfirmed`: released (expired) while the order waited: the order must be cancelled;
   * - `neverAccepted` (a subset of `notConfirmed`): released because the buyer was told 503; the
   *   order must not be stored at all (the buyer retries and gets a new one);
   * - `beingReleased`: a release is being written right now: ask again shortly.
   */
  confirm(input: { reservations: readonly ReservationRef[] }): Promise<{
    confirmed: string[];
    notConfirmed: string[];
    neverAccepted: string[];
    beingReleased: string[];
  }>;
  levels(input: { sku: string }): Promise<StockLevels | null>;
  /** The live reservation made for an order, or null (never made, or released). */
  reservation(input: { orderId: string }): Promise<ReservationView | null>;
  /** Compares live stock with the database of record now; never changes either. */
  reconcile(input: Record<string, never>): Promise<ReconciliationReport>;
}

export const INVENTORY_OPERATIONS = [
  "defineStock",
  "reserve",
  "release",
  "confirm",
  "levels",
  "reservation",
  "reconcile",
] as const satisfies readonly (keyof InventoryApi)[];
