import type { TransactionSql } from "../../platform/db/database.js";
import type { DomainEvent } from "../../platform/events/domain-event.js";
import type { Logger } from "../../platform/observability/logger.js";
import type { FulfillmentMetrics } from "./fulfillment-metrics.js";
import { type OrderToShip, ShipmentStore } from "./shipment-store.js";

export interface OrderEventHandlersOptions {
  readonly logger: Logger;
  readonly metrics: FulfillmentMetrics;
  /** After a commit that left work for a sweep: start it now rather than at its next poll. */
  readonly onShipmentRequested: () => void;
  readonly onCallBackRequested: () => void;
}

/**
 * What fulfilment does with the orders service's events (`orders.events`), inside the event
 * consumer's transaction: only database writes, never a carrier call, so the transaction is short
 * and a redelivered event finds its effect already committed. The carrier is asked by the sweeps,
 * from the rows these writes leave.
 * - `order.paid`: a shipment, once per order (the row's unique order id).
 * - `order.refunded`: the compensation: the shipment is called back if it is not delivered.
 */
export class OrderEventHandlers {
  constructor(private readonly options: OrderEventHandlersOptions) {}

  async onOrderEvent(
    event: DomainEvent,
    tx: TransactionSql,
    afterCommit: (work: () => Promise<void>) => void,
  ): Promise<void> {
    const { logger, metrics } = this.options;
    switch (event.type) {
      case "order.paid": {
        const order = orderToShipOf(event);
        if (await ShipmentStore.request(tx, order)) {
          afterCommit(async () => {
            metrics.shipment("requested");
            this.options.onShipmentRequested();
          });
        } else {
          logger.info({ orderId: order.orderId, eventId: event.id }, "order already has a shipment");
        }
        return;
      }
      case "order.refunded": {
        const order = orderToShipOf(event);
        const outcome = await ShipmentStore.callBack(tx, order);
        logger.info({ orderId: order.orderId, outcome }, "order refunded: shipment called back");
        afterCommit(async () => {
          if (outcome === "withdrawn") metrics.shipment("withdrawn");
          if (outcome === "calling_back") this.options.onCallBackRequested();
        });
        return;
      }
      default:
        // Other order events (created, cancelled before payment, …) need no shipment.
        return;
    }
  }
}

/**
 * The order facts fulfilment needs. An event without them is malformed: throwing gives it back to
 * the stream, which dead-letters it after its attempts, for an operator to look at.
 */
function orderToShipOf(event: DomainEvent): OrderToShip {
  const { orderId, userId, sku, quantity } = event.data;
  if (
    typeof orderId !== "string" ||
    orderId === "" ||
    typeof userId !== "string" ||
    typeof sku !== "string" ||
    typeof quantity !== "number" ||
    !Number.isInteger(quantity) ||
    quantity <= 0
  ) {
    throw new Error(`${event.type} event ${event.id} lacks orderId, userId, sku or a positive quantity`);
  }
  return { orderId, userId, sku, quantity };
}
