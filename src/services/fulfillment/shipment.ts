import type { ShipmentRequest } from "../../platform/carrier/carrier.js";
import { isoTimestamp } from "../../platform/db/timestamps.js";

export type ShipmentStatus = "requested" | "in_transit" | "delivered" | "cancelling" | "cancelled";

/** The statuses the sweeps work on: each has a step that asks the carrier something. */
export type PendingShipmentStatus = Extract<ShipmentStatus, "requested" | "in_transit" | "cancelling">;

/** A row of fulfillment.shipments (see its migration for what each status means). */
export interface Shipment {
  readonly id: string;
  readonly orderId: string;
  readonly userId: string;
  readonly sku: string;
  readonly quantity: number;
  readonly status: ShipmentStatus;
  readonly attempts: number;
  readonly dispatchAttempted: boolean;
  readonly carrier: string | null;
  readonly trackingNumber: string | null;
  readonly expectedDeliveryAt: string | null;
  readonly shippedAt: string | null;
  readonly deliveredAt: string | null;
  readonly cancelledAt: string | null;
}

export const SHIPMENT_COLUMNS =
  "id, order_id, user_id, sku, quantity, status, attempts, dispatch_attempted, carrier, tracking_number, expected_delivery_at, shipped_at, delivered_at, cancelled_at";

export interface ShipmentRow {
  [column: string]: unknown;
  id: string;
  order_id: string;
  user_id: string;
  sku: string;
  quantity: number;
  status: ShipmentStatus;
  attempts: number;
  dispatch_attempted: boolean;
  carrier: string | null;
  tracking_number: string | null;
  expected_delivery_at: unknown;
  shipped_at: unknown;
  delivered_at: unknown;
  cancelled_at: unknown;
}

export function toShipment(row: ShipmentRow): Shipment {
  const timestamp = (value: unknown) => (value === null || value === undefined ? null : isoTimestamp(value));
  return {
    id: row.id,
    orderId: row.order_id,
    userId: row.user_id,
    sku: row.sku,
    quantity: row.quantity,
    status: row.status,
    attempts: row.attempts,
    dispatchAttempted: row.dispatch_attempted,
    carrier: row.carrier,
    trackingNumber: row.tracking_number,
    expectedDeliveryAt: timestamp(row.expected_delivery_at),
    shippedAt: timestamp(row.shipped_at),
    deliveredAt: timestamp(row.delivered_at),
    cancelledAt: timestamp(row.cancelled_at),
  };
}

/** What the carrier is asked to ship for this shipment; the order id keys it (one parcel per order). */
export function carrierRequestOf(shipment: Shipment): ShipmentRequest {
  return {
    idempotencyKey: shipment.orderId,
    reference: shipment.orderId,
    recipient: shipment.userId,
    items: [{ sku: shipment.sku, quantity: shipment.quantity }],
  };
}
