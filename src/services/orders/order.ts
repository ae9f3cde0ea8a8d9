export type OrderStatus = "pending" | "created" | "paid" | "shipped" | "completed" | "cancelled" | "refunded";

/** One step of an order's life: the status it entered, when, and the transition's cause (plus facts such as a tracking number). */
export interface OrderHistoryEntry {
  readonly status: OrderStatus;
  readonly at: string;
  readonly cause?: string;
  readonly [detail: string]: string | undefined;
}

/** An order as the API shows it. */
export interface Order {
  readonly id: string;
  readonly userId: string;
  readonly sku: string;
  readonly quantity: number;
  readonly priceCents: number | null;
  readonly currency: string | null;
  readonly status: OrderStatus;
  readonly history: readonly OrderHistoryEntry[];
  readonly acceptedAt: string;
  readonly updatedAt: string;
  /** When an unpaid order is cancelled; null while pending. */
  readonly paymentDueAt: string | null;
}

/** Orders by id, newest first. Snowflake ids have no leading zeros, so length then text orders them. */
export function compareIdsDescending(a: string, b: string): number {
  if (a.length !== b.length) return b.length - a.length;
  return a < b ? 1 : a > b ? -1 : 0;
}
