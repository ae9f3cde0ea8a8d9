import type { ShardRouter } from "../../platform/db/shard-router.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import { transitionsCounter } from "./order-metrics.js";
import { OrderStore, orderEvent } from "./order-store.js";

const SWEEP_BATCH = 500;

/**
 * Cancels orders still unpaid at their payment deadline (FLOODGATE_PAYMENT_TIMEOUT_SECONDS after
 * they were stored), shard by shard, through an index of unpaid orders by deadline: each sweep
 * costs what is due, not what is stored. The cancellation and its `order.cancelled` event commit
 * together; the inventory gives the units back and the buyer gets an email from there. Several
 * processes may sweep at once: due orders are locked with SKIP LOCKED. Cancellations are counted
 * (`orders_transitions_total{to="cancelled"}`) once their transaction has committed.
 */
export class PaymentDeadlines {
  private readonly transitions;

  constructor(
    private readonly databases: ShardRouter,
    private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.transitions = transitionsCounter(metrics);
  }

  /** One pass over every shard; resolves to the number of orders cancelled. */
  async sweep(): Promise<number> {
    let cancelled = 0;
    for (const db of this.databases.all()) {
      for (;;) {
        const { due, applied } = await db.transaction(async (tx) => {
          const due = await OrderStore.overdue(tx, SWEEP_BATCH);
          let applied = 0;
          for (const id of due) {
            const changed = await OrderStore.transition(tx, id, {
              to: "cancelled",
              cause: "payment_timeout",
              events: (order) => [orderEvent("order.cancelled", order, { cause: "payment_timeout" })],
            });
            if (changed) applied++;
          }
          return { due: due.length, applied };
        });
        // Committed: only now are these cancellations counted.
        if (applied > 0) this.transitions.inc({ to: "cancelled", cause: "payment_timeout" }, applied);
        cancelled += applied;
        if (due < SWEEP_BATCH) break;
      }
    }
    if (cancelled > 0) this.logger.info({ cancelled }, "cancelled orders unpaid at their deadline");
    return cancelled;
  }
}
