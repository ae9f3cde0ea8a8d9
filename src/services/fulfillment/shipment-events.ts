import { newEvent } from "../../platform/events/domain-event.js";
import type { OutboxEntry } from "../../platform/events/outbox.js";
import {
  FULFILLMENT_EVENTS_TOPIC,
  type FulfillmentEventData,
  type FulfillmentEventType,
} from "./fulfillment-events.js";
import type { Shipment } from "./shipment.js";

type CommonFacts = "shipmentId" | "orderId" | "userId" | "trackingNumber" | "carrier";

/**
 * A shipment event with the facts every one carries, from the row as just changed. Only called for
 * a shipment the carrier has (so it has a tracking number and a carrier).
 */
export function shipmentEvent<T extends FulfillmentEventType>(
  type: T,
  shipment: Shipment,
  extra: Omit<FulfillmentEventData[T], CommonFacts>,
): OutboxEntry {
  if (shipment.trackingNumber === null || shipment.carrier === null) {
    throw new Error(`shipment ${shipment.id} has no tracking number: no ${type} event can name it`);
  }
  const data = {
    shipmentId: shipment.id,
    orderId: shipment.orderId,
    userId: shipment.userId,
    trackingNumber: shipment.trackingNumber,
    carrier: shipment.carrier,
    ...extra,
  };
  return { topic: FULFILLMENT_EVENTS_TOPIC, event: newEvent(type, data) };
}
