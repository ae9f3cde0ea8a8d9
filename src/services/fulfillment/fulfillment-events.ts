/**
 * The fulfilment service's events, on the `fulfillment.events` topic: its contract with the orders
 * and notifications services. Add fields freely; never change what one means.
 *
 * Each is published once per shipment (a transition of its row, with its outbox entry, in one
 * transaction): one `shipment.created`, then at most one of `shipment.delivered` and
 * `shipment.cancelled`. A consumer may still receive one twice (a relay that died after appending
 * appends it again, with the same event id) and must act once per event id.
 */
export const FULFILLMENT_EVENTS_TOPIC = "fulfillment.events";

interface ShipmentFacts {
  readonly shipmentId: string;
  readonly orderId: string;
  readonly userId: string;
  readonly trackingNumber: string;
  /** Which carrier has the parcel (`simulator` for the bundled one). */
  readonly carrier: string;
}

export interface FulfillmentEventData {
  /** The carrier took the parcel: the order is shipped. */
  "shipment.created": ShipmentFacts & {
    /** ISO 8601: when the carrier expects to deliver it. */
    readonly expectedDeliveryAt: string;
  };
  /** The carrier delivered it: the order is completed. */
  "shipment.delivered": ShipmentFacts & { readonly deliveredAt: string };
  /** The shipment was called back before delivery (the order was refunded). */
  "shipment.cancelled": ShipmentFacts & { readonly cancelledAt: string };
}

export type FulfillmentEventType = keyof FulfillmentEventData;
