import type { Counter, Metrics } from "../../platform/observability/metrics.js";

/**
 * `orders_transitions_total{to,cause}`: order status changes applied, counted once each after the
 * transaction that made them committed (a rolled-back attempt, retried later, counts once when it
 * finally commits). Orders entering `created` are `orders_stored_total`, counted by the worker.
 */
export function transitionsCounter(metrics: Metrics): Counter<"to" | "cause"> {
  return metrics.counter(
    "orders_transitions_total",
    "Order status changes applied (committed), by the status entered and its cause; orders stored (created) are orders_stored_total.",
    ["to", "cause"],
  );
}
