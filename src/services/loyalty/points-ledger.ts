import type { Sql } from "../../platform/db/database.js";

export interface PointsEntry {
  readonly id: string;
  readonly orderId: string;
  readonly kind: "award" | "reversal";
  readonly points: number;
  readonly amountCents: number;
  readonly currency: string;
  readonly createdAt: string;
}

export interface NewPointsEntry {
  readonly id: string;
  readonly userId: string;
  readonly orderId: string;
  readonly kind: "award" | "reversal";
  readonly points: number;
  readonly amountCents: number;
  readonly currency: string;
  readonly eventId: string;
}

/** The SQL of `loyalty.points_entries`, one statement per question. */
export const PointsLedger = {
  /**
   * Adds an entry unless the order has one of its kind: true when this call added it. The bare
   * ON CONFLICT relies on the (order_id, kind) unique key alone: without it a second award would be
   * added, which is what the tests check.
   */
  async add(tx: Sql, entry: NewPointsEntry): Promise<boolean> {
    const rows = await tx.query(
      `INSERT INTO loyalty.points_entries
         (id, user_id, order_id, kind, points, amount_cents, currency, event_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT DO NOTHING RETURNING id`,
      [
        entry.id,
        entry.userId,
        entry.orderId,
        entry.kind,
        entry.points,
        entry.amountCents,
        entry.currency,
        entry.eventId,
      ],
    );
    return rows.length > 0;
  },

  /** The order's entry of a kind, locked until the transaction ends. */
  async entryOf(tx: Sql, orderId: string, kind: "award" | "reversal"): Promise<PointsEntry | undefined> {
    const rows = await tx.query<PointsEntry & Record<string, unknown>>(
      `SELECT id::text AS id, order_id AS "orderId", kind, points, amount_cents::int8 AS "amountCents",
              currency, created_at AS "createdAt"
         FROM loyalty.points_entries WHERE order_id = $1 AND kind = $2 FOR UPDATE`,
      [orderId, kind],
    );
    const row = rows[0];
    return row && { ...row, amountCents: Number(row.amountCents) };
  },

  async balanceOf(sql: Sql, userId: string): Promise<number> {
    const rows = await sql.query<{ balance: string }>(
      "SELECT COALESCE(SUM(points), 0)::int8 AS balance FROM loyalty.points_entries WHERE user_id = $1",
      [userId],
    );
    return Number(rows[0]?.balance ?? 0);
  },

  /** The user's entries, newest first, after the cursor (an id). */
  async entriesOf(sql: Sql, userId: string, limit: number, beforeId?: string): Promise<PointsEntry[]> {
    const rows = await sql.query<PointsEntry & Record<string, unknown>>(
      `SELECT id::text AS id, order_id AS "orderId", kind, points, amount_cents AS "amountCents",
              currency, created_at AS "createdAt"
         FROM loyalty.points_entries
        WHERE user_id = $1 AND ($3::bigint IS NULL OR id < $3::bigint)
        ORDER BY points_entries.id DESC LIMIT $2`,
      [userId, limit, beforeId ?? null],
    );
    return rows.map((row) => ({ ...row, amountCents: Number(row.amountCents) }));
  },
};
