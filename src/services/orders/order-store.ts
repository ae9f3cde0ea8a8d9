import type { Database, Sql } from "../../platform/db/database.js";
import { isoTimestamp } from "../../platform/db/timestamps.js";
import { newEvent } from "../../platform/events/domain-event.js";
import { type OutboxEntry, writeOutbox } from "../../platform/events/outbox.js";
import type { Order, OrderHistoryEntry, OrderStatus } from "./order.js";
import { ORDER_EVENTS_TOPIC, type OrderEventData, type OrderEventType } from "./order-events.js";
import { statusesBefore, type TransitionCause } from "./order-lifecycle.js";
import type { OrderRequest } from "./order-request.js";

const COLUMNS =
  "id::text AS id, user_id, sku, quantity, price_cents, currency, status, history, accepted_at, updated_at, payment_due_at";

interface OrderRow {
  [column: string]: unknown;
  id: string;
  user_id: string;
  sku: string;
  quantity: number;
  price_cents: number;
  currency: string;
  status: OrderStatus;
  history: unknown;
  accepted_at: unknown;
  updated_at: unknown;
  payment_due_at: unknown;
}

function toOrder(row: OrderRow): Order {
  return {
    id: row.id,
    userId: row.user_id,
    sku: row.sku,
    quantity: row.quantity,
    priceCents: row.price_cents,
    currency: row.currency,
    status: row.status,
    history: (typeof row.history === "string" ? JSON.parse(row.history) : row.history) as OrderHistoryEntry[],
    acceptedAt: isoTimestamp(row.accepted_at),
    updatedAt: isoTimestamp(row.updated_at),
    paymentDueAt: isoTimestamp(row.payment_due_at),
  };
}

/** An order event with what every order event carries, from the order as stored. */
export function orderEvent<T extends OrderEventType>(
  type: T,
  order: Order,
  extra: Omit<OrderEventData[T], "orderId" | "userId" | "sku" | "quantity" | "amountCents" | "currency">,
): OutboxEntry {
  const data = {
    orderId: order.id,
    userId: order.userId,
    sku: order.sku,
    quantity: order.quantity,
    amountCents: (order.priceCents ?? 0) * order.quantity,
    currency: order.currency ?? "",
    ...extra,
  };
  return { topic: ORDER_EVENTS_TOPIC, event: newEvent(type, data) };
}

/** An order's status change, as the state machine names it. */
export interface OrderTransition {
  readonly to: OrderStatus;
  readonly cause: TransitionCause;
  /** Facts recorded in the history entry beside the cause (a tracking number, a payment id). */
  readonly detail?: Readonly<Record<string, string>>;
  /** The events the change publishes, from the order as it was changed (same transaction). */
  readonly events?: (order: Order) => OutboxEntry[];
}

/** SQL for orders.orders (and its outbox) on one physical shard; the only code that touches them. */
export class OrderStore {
  constructor(readonly db: Database) {}

  /**
   * Stores accepted orders as `created`, with an `order.created` event each, in one transaction.
   * Ids already present are left alone (and publish nothing), so a redelivered batch never makes a
   * second order. Returns how many rows were new.
   */
  async insertCreated(
    requests: readonly OrderRequest[],
    storedAt: string,
    paymentTimeoutSeconds: number,
  ): Promise<number> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query<OrderRow>(
        `INSERT INTO orders.orders
           (id, user_id, sku, quantity, price_cents, currency, status, idempotency_key, history, accepted_at,
            payment_due_at)
         SELECT id, user_id, sku, quantity, price_cents, currency, 'created', idempotency_key,
                jsonb_build_array(jsonb_build_object('status', 'pending', 'at', accepted_at, 'cause', 'accepted'),
                                  jsonb_build_object('status', 'created', 'at', $9::text, 'cause', 'stored')),
                accepted_at::timestamptz,
                $9::timestamptz + make_interval(secs => $10)
         FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[])
           AS r(id, user_id, sku, quantity, price_cents, currency, idempotency_key, accepted_at)
         ON CONFLICT (id) DO NOTHING
         RETURNING ${COLUMNS}`,
        [
          requests.map((r) => r.orderId),
          requests.map((r) => r.userId),
          requests.map((r) => r.sku),
          requests.map((r) => r.quantity),
          requests.map((r) => r.priceCents),
          requests.map((r) => r.currency),
          requests.map((r) => r.idempotencyKey),
          requests.map((r) => r.acceptedAt),
          storedAt,
          paymentTimeoutSeconds,
        ],
      );
      const orders = rows.map(toOrder);
      await writeOutbox(
        tx,
        "orders",
        orders.map((order) => orderEvent("order.created", order, { paymentDueAt: order.paymentDueAt! })),
      );
      return rows.length;
    });
  }

  /**
   * Applies a transition to the order if its status allows it (ORDER_TRANSITIONS), appending the
   * history entry and writing its events, in the caller's transaction. Undefined when the order
   * is not in a status the transition may follow (the caller logs the refusal); the order as it
   * now is, otherwise.
   */
  static async transition(
    tx: Sql,
    id: string,
    transition: OrderTransition,
    at = new Date().toISOString(),
  ): Promise<Order | undefined> {
    const from = statusesBefore(transition.to, transition.cause);
    const entry = { status: transition.to, at, cause: transition.cause, ...transition.detail };
    const [row] = await tx.query<OrderRow>(
      `UPDATE orders.orders
       SET status = $2, updated_at = now(), history = history || jsonb_build_array($4::jsonb)
       WHERE id = $1 AND status = ANY($3::text[])
       RETURNING ${COLUMNS}`,
      [id, transition.to, from, JSON.stringify(entry)],
    );
    if (!row) return undefined;
    const order = toOrder(row);
    await writeOutbox(tx, "orders", transition.events?.(order) ?? []);
    return order;
  }

  /**
   * Records something that happened to an order without changing its status (a refused payment),
   * with the events it publishes, in the caller's transaction.
   */
  static async note(
    tx: Sql,
    id: string,
    entry: { status: OrderStatus; cause: string },
    events: readonly OutboxEntry[],
    at = new Date().toISOString(),
  ): Promise<void> {
    await tx.query(
      `UPDATE orders.orders SET updated_at = now(), history = history || jsonb_build_array($2::jsonb) WHERE id = $1`,
      [id, JSON.stringify({ ...entry, at })],
    );
    await writeOutbox(tx, "orders", events);
  }

  /** The order, read in the caller's transaction (and locked in it for an update to follow). */
  static async forUpdate(tx: Sql, id: string): Promise<Order | undefined> {
    const rows = await tx.query<OrderRow>(`SELECT ${COLUMNS} FROM orders.orders WHERE id = $1 FOR UPDATE`, [
      id,
    ]);
    return rows[0] && toOrder(rows[0]);
  }

  /** Created orders whose payment is overdue, oldest due first, locked for this transaction. */
  static async overdue(tx: Sql, limit: number): Promise<string[]> {
    const rows = await tx.query<{ id: string }>(
      `SELECT id::text AS id FROM orders.orders
       WHERE status = 'created' AND payment_due_at <= now()
       ORDER BY payment_due_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    return rows.map((row) => row.id);
  }

  async byId(id: string): Promise<Order | undefined> {
    const rows = await this.db.query<OrderRow>(`SELECT ${COLUMNS} FROM orders.orders WHERE id = $1`, [id]);
    return rows[0] && toOrder(rows[0]);
  }

  async byUser(userId: string, limit: number, beforeId: string | undefined): Promise<Order[]> {
    const rows = await this.db.query<OrderRow>(
      `SELECT ${COLUMNS} FROM orders.orders WHERE user_id = $1 AND id < $2 ORDER BY orders.id DESC LIMIT $3`,
      [userId, beforeId ?? "9223372036854775807", limit],
    );
    return rows.map(toOrder);
  }

  /**
   * The newest orders (of one status, if given) older than `beforeId`. Each form has one index that
   * yields its rows in order, so the plan reads `limit` rows whatever the table holds: the primary
   * key backwards for all orders; for one status, orders_status_newest, whose order (-id) no other
   * index provides (see migration 003 for the plan the planner preferred before).
   */
  async byStatus(
    status: OrderStatus | undefined,
    limit: number,
    beforeId: string | undefined,
  ): Promise<Order[]> {
    const before = beforeId ?? "9223372036854775807";
    const rows = status
      ? await this.db.query<OrderRow>(
          `SELECT ${COLUMNS} FROM orders.orders WHERE status = $1 AND -orders.id > -$2::bigint
           ORDER BY -orders.id LIMIT $3`,
          [status, before, limit],
        )
      : await this.db.query<OrderRow>(
          `SELECT ${COLUMNS} FROM orders.orders WHERE id < $1 ORDER BY orders.id DESC LIMIT $2`,
          [before, limit],
        );
    return rows.map(toOrder);
  }
}
