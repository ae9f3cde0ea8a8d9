import type { Database } from "../../platform/db/database.js";
import { isoTimestamp } from "../../platform/db/timestamps.js";
import type { Order, OrderHistoryEntry, OrderStatus } from "./order.js";
import type { OrderRequest } from "./order-request.js";

const COLUMNS =
  "id::text AS id, user_id, sku, quantity, price_cents, currency, status, history, accepted_at, updated_at";

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
  };
}

/** SQL for orders.orders on one physical shard; the only code that touches that table. */
export class OrderStore {
  constructor(readonly db: Database) {}

  /**
   * Stores accepted orders as `created` in one statement. Ids already present are left alone, so a
   * redelivered batch never makes a second order. Returns how many rows were new.
   */
  async insertCreated(requests: readonly OrderRequest[], storedAt: string): Promise<number> {
    const rows = await this.db.query(
      `INSERT INTO orders.orders
         (id, user_id, sku, quantity, price_cents, currency, status, idempotency_key, history, accepted_at)
       SELECT id, user_id, sku, quantity, price_cents, currency, 'created', idempotency_key,
              jsonb_build_array(jsonb_build_object('status', 'pending', 'at', accepted_at),
                                jsonb_build_object('status', 'created', 'at', $9::text)),
              accepted_at::timestamptz
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[])
         AS r(id, user_id, sku, quantity, price_cents, currency, idempotency_key, accepted_at)
       ON CONFLICT (id) DO NOTHING
       RETURNING id`,
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
      ],
    );
    return rows.length;
  }

  /** Moves orders to `status` and records why; orders already in that status are left alone. */
  /** Moves orders that are in status `from` to `to` (others, e.g. already further along, stay). */
  async transition(
    ids: readonly string[],
    from: OrderStatus,
    to: OrderStatus,
    reason: string,
    at: string,
  ): Promise<void> {
    await this.db.query(
      `UPDATE orders.orders
       SET status = $3, updated_at = now(),
           history = history || jsonb_build_array(jsonb_build_object('status', $3::text, 'at', $5::text, 'reason', $4::text))
       WHERE id = ANY($1::bigint[]) AND status = $2`,
      [ids, from, to, reason, at],
    );
  }

  async byId(id: string): Promise<Order | undefined> {
    const rows = await this.db.query<OrderRow>(`SELECT ${COLUMNS} FROM orders.orders WHERE id = $1`, [id]);
    return rows[0] && toOrder(rows[0]);
  }

  async byUser(userId: string, limit: number, beforeId: string | undefined): Promise<Order[]> {
    const rows = await this.db.query<OrderRow>(
      `SELECT ${COLUMNS} FROM orders.orders WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
      [userId, beforeId ?? "9223372036854775807", limit],
    );
    return rows.map(toOrder);
  }

  async byStatus(
    status: OrderStatus | undefined,
    limit: number,
    beforeId: string | undefined,
  ): Promise<Order[]> {
    const before = beforeId ?? "9223372036854775807";
    const rows = status
      ? await this.db.query<OrderRow>(
          `SELECT ${COLUMNS} FROM orders.orders WHERE status = $1 AND id < $2 ORDER BY id DESC LIMIT $3`,
          [status, before, limit],
        )
      : await this.db.query<OrderRow>(
          `SELECT ${COLUMNS} FROM orders.orders WHERE id < $1 ORDER BY id DESC LIMIT $2`,
          [before, limit],
        );
    return rows.map(toOrder);
  }
}
