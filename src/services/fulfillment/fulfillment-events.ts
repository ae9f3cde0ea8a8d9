/**
 * The fulfilment service's events, on the `fulfillment.events` topic: its contract with the orders
 * and notifications services. Add fields freely; never change what one means.
 */
export const FULFILLMENT_EVENTS_TOPIC = "fulfillment.events";

interface ShipmentFacts {
  readonly shipmentId: string;
  readonly orderId: string;
  readonly userId: string;
  readonly trackingNumber: string;
}

export interface FulfillmentEventData {
  /** The carrier took the parcel: the order is shipped. */
  "shipment.created": ShipmentFacts;
  /** The carrier delivered it: the order is completed. */
  "shipment.delivered": ShipmentFacts;
  /** The shipment was called back before delivery (the order was refunded). */
  "shipment.cancelled": ShipmentFacts;
}

export type FulfillmentEventType = keyof FulfillmentEventData;
