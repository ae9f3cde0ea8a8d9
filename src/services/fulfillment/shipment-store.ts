import { randomUUID } from "node:crypto";
import type { Database, Sql } from "../../platform/db/database.js";
import {
  type PendingShipmentStatus,
  SHIPMENT_COLUMNS,
  type Shipment,
  type ShipmentRow,
  type ShipmentStatus,
  toShipment,
} from "./shipment.js";

/** The fulfillment service's schema: its shipments, outbox and processed events. */
export const FULFILLMENT_SCHEMA = "fulfillment";
const TABLE = `${FULFILLMENT_SCHEMA}.shipments`;

/** What an order event tells fulfilment about the order. */
export interface OrderToShip {
  readonly orderId: string;
  readonly userId: string;
  readonly sku: string;
  readonly quantity: number;
}

/**
 * What a refund did to the order's shipment:
 * - `never_shipped`: there was none (the refund came first); none will ever be made.
 * - `withdrawn`: the carrier was never asked; it is cancelled here and now.
 * - `calling_back`: the carrier has it, or may: the canceller asks the carrier to call it back.
 * - `unchanged`: delivered, or already being (or been) called back.
 */
export type CallBackOutcome = "never_shipped" | "withdrawn" | "calling_back" | "unchanged";

/**
 * SQL for fulfillment.shipments; the only code that touches it. Every status change is a
 * conditional update from the status the caller saw, so of two processes (or a sweep and a refund)
 * acting on one shipment, exactly one moves it, and only that one publishes the event.
 */
export class ShipmentStore {
  constructor(readonly db: Database) {}

  /**
   * A shipment for a paid order, due to be sent to the carrier now. Nothing when the order has one
   * (or had one called back before it was paid): false then.
   */
  static async request(tx: Sql, order: OrderToShip): Promise<boolean> {
    const rows = await tx.query(
      `INSERT INTO ${TABLE} (id, order_id, user_id, sku, quantity, status, due_at)
       VALUES ($1, $2, $3, $4, $5, 'requested', now())
       ON CONFLICT DO NOTHING RETURNING id`,
      [randomUUID(), order.orderId, order.userId, order.sku, order.quantity],
    );
    return rows.length > 0;
  }

  /** The compensation for a refund: see CallBackOutcome. */
  static async callBack(tx: Sql, order: OrderToShip): Promise<CallBackOutcome> {
    // A refund seen before the payment (its order.paid failed once and waits for a retry): a row
    // that says "never ship this", which that order.paid then finds.
    const tombstone = await tx.query(
      `INSERT INTO ${TABLE} (id, order_id, user_id, sku, quantity, status, due_at, cancelled_at)
       VALUES ($1, $2, $3, $4, $5, 'cancelled', now(), now())
       ON CONFLICT DO NOTHING RETURNING id`,
      [randomUUID(), order.orderId, order.userId, order.sku, order.quantity],
    );
    if (tombstone.length > 0) return "never_shipped";
    // Locked: a dispatcher claiming it (and marking it attempted) either committed before this
    // read, or waits for this transaction and then finds it no longer requested.
    const [row] = await tx.query<{ status: ShipmentStatus; dispatch_attempted: boolean }>(
      `SELECT status, dispatch_attempted FROM ${TABLE} WHERE order_id = $1 FOR UPDATE`,
      [order.orderId],
    );
    if (!row) throw new Error(`shipment of order ${order.orderId} vanished`);
    if (row.status === "requested" && !row.dispatch_attempted) {
      await tx.query(`UPDATE ${TABLE} SET status = 'cancelled', cancelled_at = now() WHERE order_id = $1`, [
        order.orderId,
      ]);
      return "withdrawn";
    }
    if (row.status === "requested" || row.status === "in_transit") {
      await tx.query(
        `UPDATE ${TABLE} SET status = 'cancelling', due_at = now(), attempts = 0, last_error = NULL
         WHERE order_id = $1`,
        [order.orderId],
      );
      return "calling_back";
    }
    return "unchanged";
  }

  /**
   * Takes up to `limit` shipments in `status` whose time has come, and pushes their due time
   * `leaseSeconds` ahead, so that no other process takes them while this one asks the carrier;
   * if this one dies, they come due again when the lease runs out. Committed before any carrier
   * call, and so is `dispatch_attempted`: a refund that comes while the call is under way knows
   * the carrier may have the parcel.
   */
  async claimDue(status: PendingShipmentStatus, limit: number, leaseSeconds: number): Promise<Shipment[]> {
    const rows = await this.db.query<ShipmentRow>(
      `UPDATE ${TABLE} SET due_at = now() + make_interval(secs => $3), attempts = attempts + 1,
              dispatch_attempted = dispatch_attempted OR status = 'requested'
       WHERE status = $1 AND id IN (
         SELECT id FROM ${TABLE} WHERE status = $1 AND due_at <= now()
         ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING ${SHIPMENT_COLUMNS}`,
      [status, limit, leaseSeconds],
    );
    return rows.map(toShipment);
  }

  /** requested → in_transit, with what the carrier said; undefined if it was no longer requested. */
  static async shipped(
    tx: Sql,
    id: string,
    carrier: string,
    trackingNumber: string,
    expectedDeliveryAt: string,
  ): Promise<Shipment | undefined> {
    const [row] = await tx.query<ShipmentRow>(
      `UPDATE ${TABLE} SET status = 'in_transit', carrier = $2, tracking_number = $3,
              expected_delivery_at = $4, due_at = $4, shipped_at = now(), attempts = 0, last_error = NULL
       WHERE id = $1 AND status = 'requested'
       RETURNING ${SHIPMENT_COLUMNS}`,
      [id, carrier, trackingNumber, expectedDeliveryAt],
    );
    return row ? toShipment(row) : undefined;
  }

  /**
   * Keeps the tracking number the carrier gave, when the shipment moved on meanwhile (a refund made
   * it `cancelling`): the canceller needs it to call the parcel back.
   */
  static async rememberTracking(tx: Sql, id: string, carrier: string, trackingNumber: string): Promise<void> {
    await tx.query(
      `UPDATE ${TABLE} SET carrier = $2, tracking_number = $3 WHERE id = $1 AND tracking_number IS NULL`,
      [id, carrier, trackingNumber],
    );
  }

  /** `from` → delivered; undefined if it was no longer `from`. */
  static async delivered(
    tx: Sql,
    id: string,
    from: PendingShipmentStatus,
    deliveredAt: string,
  ): Promise<Shipment | undefined> {
    const [row] = await tx.query<ShipmentRow>(
      `UPDATE ${TABLE} SET status = 'delivered', delivered_at = $3, attempts = 0, last_error = NULL
       WHERE id = $1 AND status = $2
       RETURNING ${SHIPMENT_COLUMNS}`,
      [id, from, deliveredAt],
    );
    return row ? toShipment(row) : undefined;
  }

  /** `from` → cancelled (the carrier called the parcel back); undefined if it was no longer `from`. */
  static async cancelled(
    tx: Sql,
    id: string,
    from: PendingShipmentStatus,
    carrier: string,
    trackingNumber: string,
  ): Promise<Shipment | undefined> {
    const [row] = await tx.query<ShipmentRow>(
      `UPDATE ${TABLE} SET status = 'cancelled', cancelled_at = now(), carrier = $3, tracking_number = $4,
              attempts = 0, last_error = NULL
       WHERE id = $1 AND status = $2
       RETURNING ${SHIPMENT_COLUMNS}`,
      [id, from, carrier, trackingNumber],
    );
    return row ? toShipment(row) : undefined;
  }

  /** Still on its way: look again at `dueAt` (if it is still in transit by then). */
  async lookAgainAt(id: string, dueAt: string): Promise<void> {
    await this.db.query(
      `UPDATE ${TABLE} SET due_at = $2, attempts = 0, last_error = NULL WHERE id = $1 AND status = 'in_transit'`,
      [id, dueAt],
    );
  }

  /**
   * A carrier call failed: try again after `delayMs`, if the shipment is still in `status` (a refund
   * that moved it on meanwhile set its own due time, which this must not overwrite).
   */
  async retryLater(id: string, status: PendingShipmentStatus, delayMs: number, error: string): Promise<void> {
    await this.db.query(
      `UPDATE ${TABLE} SET due_at = now() + make_interval(secs => $3), last_error = $4
       WHERE id = $1 AND status = $2`,
      [id, status, delayMs / 1000, error],
    );
  }

  async byOrderId(orderId: string): Promise<Shipment | undefined> {
    const [row] = await this.db.query<ShipmentRow>(
      `SELECT ${SHIPMENT_COLUMNS} FROM ${TABLE} WHERE order_id = $1`,
      [orderId],
    );
    return row ? toShipment(row) : undefined;
  }
}
