import type { TransactionSql } from "../../platform/db/database.js";
import type { DomainEvent } from "../../platform/events/domain-event.js";
import type { EventHandler } from "../../platform/events/event-consumer.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { Metrics } from "../../platform/observability/metrics.js";
import type { FulfillmentEventData } from "../fulfillment/fulfillment-events.js";
import type { PaymentEventData } from "../payments/payment-events.js";
import type { Order, OrderStatus } from "./order.js";
import { transitionsCounter } from "./order-metrics.js";
import { OrderStore, type OrderTransition, orderEvent } from "./order-store.js";

/** The consumer's after-commit hook (see EventHandler): the applied transition is counted there. */
type AfterCommit = Parameters<EventHandler>[2];

/**
 * How the order follows its payment and its shipment. Each handler runs in the event consumer's
 * transaction on the order's shard, so a status change, its history entry and its events commit
 * together, once per event. A transition the state machine does not allow is refused and logged
 * (and counted), never applied; a payment that cannot be taken asks for its refund. An applied
 * transition is counted (`orders_transitions_total`) once its transaction has committed.
 */
export class OrderLifecycleHandlers {
  private readonly refused;
  private readonly applied;

  constructor(
    private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.refused = metrics.counter(
      "orders_transitions_refused_total",
      "Order status changes the state machine refused (the event arrived for an order in another status).",
      ["to", "cause"],
    );
    this.applied = transitionsCounter(metrics);
  }

  /** The payment event types `onPayment` acts on. */
  static readonly PAYMENT_TYPES = ["payment.succeeded", "payment.refunded"] as const;
  /** The shipment event types `onShipment` acts on. */
  static readonly SHIPMENT_TYPES = ["shipment.created", "shipment.delivered"] as const;

  /** `payments.events` */
  async onPayment(event: DomainEvent, tx: TransactionSql, afterCommit: AfterCommit): Promise<void> {
    switch (event.type) {
      case "payment.succeeded": {
        const data = event.data as unknown as PaymentEventData["payment.succeeded"];
        const order = await OrderStore.forUpdate(tx, data.orderId);
        if (!order) return this.refuse(event, "paid", "payment_succeeded", "no such order");
        if (order.status === "created") {
          await this.apply(tx, afterCommit, order, {
            to: "paid",
            cause: "payment_succeeded",
            detail: { paymentId: data.paymentId },
            events: (paid) => [orderEvent("order.paid", paid, { paymentId: data.paymentId })],
          });
          return;
        }
        if (paymentIdOf(order) === data.paymentId) return; // this very payment, already applied
        // The compensation: a payment the order cannot take goes back to the buyer.
        const reason = order.status === "cancelled" ? "order_cancelled" : "already_paid";
        this.logger.warn({ orderId: order.id, paymentId: data.paymentId, reason }, "refusing a payment");
        await OrderStore.note(tx, order.id, { status: order.status, cause: `payment_refused_${reason}` }, [
          orderEvent("order.payment_refused", order, { paymentId: data.paymentId, reason }),
        ]);
        return;
      }
      case "payment.refunded": {
        const data = event.data as unknown as PaymentEventData["payment.refunded"];
        if (data.reason !== "requested") return; // a refused payment: the order itself did not change
        const order = await OrderStore.forUpdate(tx, data.orderId);
        if (!order) return this.refuse(event, "refunded", "refunded", "no such order");
        await this.apply(tx, afterCommit, order, {
          to: "refunded",
          cause: "refunded",
          detail: { paymentId: data.paymentId },
          events: (refunded) => [
            orderEvent("order.refunded", refunded, { paymentId: data.paymentId, from: order.status }),
          ],
        });
        return;
      }
    }
  }

  /** `fulfillment.events` */
  async onShipment(event: DomainEvent, tx: TransactionSql, afterCommit: AfterCommit): Promise<void> {
    const data = event.data as unknown as FulfillmentEventData["shipment.created"];
    switch (event.type) {
      case "shipment.created": {
        const order = await OrderStore.forUpdate(tx, data.orderId);
        if (!order) return this.refuse(event, "shipped", "shipment_created", "no such order");
        // Its delivery overtook it (a redelivery) and shipped the order already: nothing to do.
        if (order.status === "completed" && order.history.some((entry) => entry.status === "shipped")) return;
        await this.apply(tx, afterCommit, order, this.shipped(data));
        return;
      }
      case "shipment.delivered": {
        let order = await OrderStore.forUpdate(tx, data.orderId);
        if (!order) return this.refuse(event, "completed", "delivered", "no such order");
        if (order.status === "paid") {
          // The delivery overtook its shipment.created (one of them was redelivered): a delivered
          // parcel was shipped, so the order passes through shipped first, as the machine says.
          await this.apply(tx, afterCommit, order, this.shipped(data));
          order = (await OrderStore.forUpdate(tx, data.orderId)) ?? order;
        }
        await this.apply(tx, afterCommit, order, {
          to: "completed",
          cause: "delivered",
          events: (completed) => [orderEvent("order.completed", completed, {})],
        });
        return;
      }
    }
  }

  private shipped(
    data: FulfillmentEventData["shipment.created"] | FulfillmentEventData["shipment.delivered"],
  ) {
    return {
      to: "shipped",
      cause: "shipment_created",
      detail: { trackingNumber: data.trackingNumber },
      events: (shipped: Order) => [
        orderEvent("order.shipped", shipped, { trackingNumber: data.trackingNumber }),
      ],
    } satisfies OrderTransition;
  }

  private async apply(
    tx: TransactionSql,
    afterCommit: AfterCommit,
    order: Order,
    transition: OrderTransition,
  ): Promise<void> {
    const changed = await OrderStore.transition(tx, order.id, transition);
    if (!changed) {
      this.refuse(undefined, transition.to, transition.cause, `the order is ${order.status}`, order.id);
      return;
    }
    // After the commit: an attempt that rolls back (and is retried) is not counted.
    const labels = { to: transition.to, cause: transition.cause };
    afterCommit(async () => {
      this.applied.inc(labels);
    });
  }

  private refuse(
    event: DomainEvent | undefined,
    to: OrderStatus,
    cause: string,
    why: string,
    orderId?: string,
  ): void {
    this.refused.inc({ to, cause });
    this.logger.warn(
      {
        orderId: orderId ?? (event?.data as { orderId?: string } | undefined)?.orderId,
        to,
        cause,
        why,
        eventId: event?.id,
      },
      "order transition refused",
    );
  }
}

/** The payment an order was paid with, from its history. */
function paymentIdOf(order: Order): string | undefined {
  return order.history.find((entry) => entry.status === "paid")?.paymentId;
}
