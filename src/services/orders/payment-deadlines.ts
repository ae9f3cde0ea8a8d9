import type { ShardRouter } from "../../platform/db/shard-router.js";
import type { Logger } from "../../platform/observability/logger.js";
import { OrderStore, orderEvent } from "./order-store.js";

const SWEEP_BATCH = 500;

/**
 * Cancels orders still unpaid at their payment deadline (FLOODGATE_PAYMENT_TIMEOUT_SECONDS after
 * they were stored), shard by shard, through an index of unpaid orders by deadline: each sweep
 * costs what is due, not what is stored. The cancellation and its `order.cancelled` event commit
 * together; the inventory gives the units back and the buyer gets an email from there. Several
 * processes may sweep at once: due orders are locked with SKIP LOCKED.
 */
export class PaymentDeadlines {
  constructor(
    private readonly databases: ShardRouter,
    private readonly logger: Logger,
  ) {}

  /** One pass over every shard; resolves to the number of orders cancelled. */
  async sweep(): Promise<number> {
    let cancelled = 0;
    for (const db of this.databases.all()) {
      for (;;) {
        const done = await db.transaction(async (tx) => {
          const due = await OrderStore.overdue(tx, SWEEP_BATCH);
          for (const id of due) {
            await OrderStore.transition(tx, id, {
              to: "cancelled",
              cause: "payment_timeout",
              events: (order) => [orderEvent("order.cancelled", order, { cause: "payment_timeout" })],
            });
          }
          return due.length;
        });
        cancelled += done;
        if (done < SWEEP_BATCH) break;
      }
    }
    if (cancelled > 0) this.logger.info({ cancelled }, "cancelled orders unpaid at their deadline");
    return cancelled;
  }
}
