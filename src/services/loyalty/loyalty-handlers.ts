import type { TransactionSql } from "../../platform/db/database.js";
import type { DomainEvent } from "../../platform/events/domain-event.js";
import type { SnowflakeGenerator } from "../../platform/ids/snowflake.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import type { OrderEventData } from "../orders/order-events.js";
import { PointsLedger } from "./points-ledger.js";
import { pointsFor } from "./points-rule.js";

/** The order event types `LoyaltyHandlers.onOrderEvent` acts on. */
export const LOYALTY_ORDER_TYPES = ["order.completed", "order.refunded"] as const;

/** An event that names no order, user or amount cannot move points: it goes to the dead letters. */
export class UnusableEventError extends Error {
  override readonly name = "UnusableEventError";
}

type OrderFacts = OrderEventData["order.completed"];
/** The consumer's hook for work that must wait until the event's transaction committed. */
type AfterCommit = (work: () => Promise<void>) => void;

/**
 * Points follow the order: awarded when it completes, taken back when it is refunded. Each
 * handler runs in the event consumer's transaction, so an entry exists if and only if its event
 * was applied, and the (order, kind) unique key keeps it to one award and one reversal per order.
 */
export class LoyaltyHandlers {
  private readonly awarded;
  private readonly reversed;
  private readonly entries;

  constructor(
    private readonly options: {
      ids: SnowflakeGenerator;
      pointsPerCurrencyUnit: number;
      logger: Logger;
      metrics: Metrics;
    },
  ) {
    this.awarded = options.metrics.counter(
      "loyalty_points_awarded_total",
      "Loyalty points awarded for completed orders.",
    );
    this.reversed = options.metrics.counter(
      "loyalty_points_reversed_total",
      "Loyalty points taken back from refunded orders.",
    );
    this.entries = options.metrics.counter(
      "loyalty_entries_total",
      "Points entries, by kind and outcome (added; duplicate: the order has one of its kind; skipped: an award for an order already refunded).",
      ["kind", "outcome"],
    );
  }

  /**
   * `orders.events`. The counters move in `afterCommit`: an attempt that rolls back and is
   * retried must not count its points twice.
   */
  async onOrderEvent(event: DomainEvent, tx: TransactionSql, afterCommit: AfterCommit): Promise<void> {
    // LOYALTY_ORDER_TYPES lists these two: keep them in step.
    if (event.type === "order.completed") return this.award(event, tx, afterCommit);
    if (event.type === "order.refunded") return this.reverse(event, tx, afterCommit);
  }

  private async award(event: DomainEvent, tx: TransactionSql, afterCommit: AfterCommit): Promise<void> {
    const order = factsOf(event);
    await lockOrder(tx, order.orderId);
    // A refund is final: a completion applied after it earns nothing more. Either the refund was
    // of the completed order and awarded its points itself (below), or the order was refunded
    // before it completed and earns none.
    if (await PointsLedger.entryOf(tx, order.orderId, "reversal")) {
      if (await PointsLedger.entryOf(tx, order.orderId, "award")) {
        afterCommit(async () => {
          this.entries.inc({ kind: "award", outcome: "duplicate" });
        });
        return;
      }
      afterCommit(async () => {
        this.entries.inc({ kind: "award", outcome: "skipped" });
      });
      this.options.logger.warn(
        { orderId: order.orderId, eventId: event.id },
        "not awarding points: the order was refunded before it completed",
      );
      return;
    }
    await this.addAward(event, order, tx, afterCommit);
  }

  private async reverse(event: DomainEvent, tx: TransactionSql, afterCommit: AfterCommit): Promise<void> {
    const order = factsOf(event);
    await lockOrder(tx, order.orderId);
    // Exactly what was awarded goes back, whatever the rate is now. A refund of a completed order
    // whose completion is not applied yet (its event is being retried, or was in the hands of a
    // process that died, while the refund's overtook it) awards the points the completion earned
    // first, so the order has its award and its reversal whatever order the two arrive in. An
    // order refunded before it completed earned nothing: its reversal is of 0 points, and it
    // stops a late award.
    let award = await PointsLedger.entryOf(tx, order.orderId, "award");
    if (!award && (event.data as { from?: unknown }).from === "completed") {
      await this.addAward(event, order, tx, afterCommit);
      award = await PointsLedger.entryOf(tx, order.orderId, "award");
    }
    const points = award ? -award.points : 0;
    const added = await PointsLedger.add(tx, {
      id: this.options.ids.next(0),
      userId: order.userId,
      orderId: order.orderId,
      kind: "reversal",
      points,
      amountCents: order.amountCents,
      currency: order.currency,
      eventId: event.id,
    });
    afterCommit(async () => {
      this.entries.inc({ kind: "reversal", outcome: added ? "added" : "duplicate" });
    });
    if (added)
      afterCommit(async () => {
        this.reversed.inc(-points);
      });
  }

  /** The order's award at today's rate, unless it has one; `event` is the one that earned it. */
  private async addAward(
    event: DomainEvent,
    order: OrderFacts,
    tx: TransactionSql,
    afterCommit: AfterCommit,
  ): Promise<void> {
    const points = pointsFor(order.amountCents, this.options.pointsPerCurrencyUnit);
    const added = await PointsLedger.add(tx, {
      id: this.options.ids.next(0),
      userId: order.userId,
      orderId: order.orderId,
      kind: "award",
      points,
      amountCents: order.amountCents,
      currency: order.currency,
      eventId: event.id,
    });
    afterCommit(async () => {
      this.entries.inc({ kind: "award", outcome: added ? "added" : "duplicate" });
    });
    if (added)
      afterCommit(async () => {
        this.awarded.inc(points);
      });
  }
}

/**
 * Serialises the events of one order across loyalty processes: without it, a completion and a
 * refund handled at the same moment by two processes would each miss the other's entry.
 */
async function lockOrder(tx: TransactionSql, orderId: string): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`loyalty.order:${orderId}`]);
}

function factsOf(event: DomainEvent): OrderFacts {
  const data = event.data as Partial<OrderFacts>;
  if (
    typeof data.orderId !== "string" ||
    data.orderId === "" ||
    typeof data.userId !== "string" ||
    !Number.isSafeInteger(data.amountCents) ||
    typeof data.currency !== "string"
  )
    throw new UnusableEventError(`${event.type} ${event.id} names no order, user or amount`);
  return data as OrderFacts;
}
