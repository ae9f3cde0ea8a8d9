import type { OrderStatus } from "./order.js";

/**
 * The order's state machine, in one place. Every change of an order's status is one of these
 * transitions, named by its cause; anything else is refused (and logged by the caller), never
 * applied. docs/order-lifecycle.md draws this table, and a test keeps the drawing in step.
 */
export const ORDER_TRANSITIONS = [
  { from: "pending", to: "created", cause: "stored" },
  { from: "created", to: "paid", cause: "payment_succeeded" },
  { from: "created", to: "cancelled", cause: "payment_timeout" },
  { from: "paid", to: "shipped", cause: "shipment_created" },
  { from: "shipped", to: "completed", cause: "delivered" },
  { from: "paid", to: "refunded", cause: "refunded" },
  { from: "shipped", to: "refunded", cause: "refunded" },
  { from: "completed", to: "refunded", cause: "refunded" },
] as const satisfies readonly { from: OrderStatus; to: OrderStatus; cause: string }[];

export type TransitionCause = (typeof ORDER_TRANSITIONS)[number]["cause"];

/** The statuses an order may be in for `to` to follow for `cause`; empty when none. */
export function statusesBefore(to: OrderStatus, cause: TransitionCause): OrderStatus[] {
  return ORDER_TRANSITIONS.filter((t) => t.to === to && t.cause === cause).map((t) => t.from);
}

export function isAllowed(from: OrderStatus, to: OrderStatus, cause: TransitionCause): boolean {
  return ORDER_TRANSITIONS.some((t) => t.from === from && t.to === to && t.cause === cause);
}

/** Final statuses: nothing follows them but a refund. */
export const FINAL_STATUSES: readonly OrderStatus[] = ["completed", "cancelled", "refunded"];

/** The machine as a Mermaid state diagram (the docs embed exactly this). */
export function lifecycleDiagram(): string {
  const lines = ["stateDiagram-v2", "  [*] --> pending: accepted (202)"];
  for (const t of ORDER_TRANSITIONS) lines.push(`  ${t.from} --> ${t.to}: ${t.cause}`);
  for (const status of ["completed", "cancelled", "refunded"]) lines.push(`  ${status} --> [*]`);
  return lines.join("\n");
}
