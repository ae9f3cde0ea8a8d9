/** The inventory's contract with other services (in-process or over HTTP). */
export interface StockTerms {
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
  /** Scoped to the user: the same user and key never reserve twice. */
  readonly idempotencyKey: string;
}

export type RefusalReason = "no_sale" | "sale_not_open" | "sold_out" | "limit_exceeded";

export type ReserveResult =
  | { readonly outcome: "reserved"; readonly orderId: string }
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
  | { readonly outcome: "refused"; readonly reason: RefusalReason; readonly available: number };

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

/** A live reservation, as seen by the order it was made for. */
export interface ReservationView {
  readonly orderId: string;
  readonly sku: string;
  readonly userId: string;
  readonly quantity: number;
  readonly status: "reserved" | "releasing" | "confirmed";
  readonly reservedAt: string;
}

export interface InventoryApi {
  defineStock(input: StockTerms): Promise<StockLevels>;
  reserve(input: ReserveRequest): Promise<ReserveResult>;
  /** Returns stock to the sale; ids already released or unknown are ignored. */
  release(input: { orderIds: readonly string[] }): Promise<{ released: string[] }>;
  /**
   * Marks reservations as sold once their orders are stored. Ids whose reservation was already
   * released (expired) come back in `notConfirmed`: their orders must be cancelled.
   */
  confirm(input: { orderIds: readonly string[] }): Promise<{ confirmed: string[]; notConfirmed: string[] }>;
  levels(input: { sku: string }): Promise<StockLevels | null>;
  /** The live reservation made for an order, or null (never made, or released). */
  reservation(input: { orderId: string }): Promise<ReservationView | null>;
}

export const INVENTORY_OPERATIONS = [
  "defineStock",
  "reserve",
  "release",
  "confirm",
  "levels",
  "reservation",
] as const satisfies readonly (keyof InventoryApi)[];
