import type { Database, Sql } from "../../platform/db/database.js";
import { isoTimestamp } from "../../platform/db/timestamps.js";
import type { StockTerms } from "./api.js";
import type { Reservation, ReservationStatus } from "./stock-ledger.js";

/** A change to persist: a new reservation, or a status change of an existing one. */
export type LedgerWrite =
  | { readonly kind: "insert"; readonly reservation: Reservation }
  | {
      readonly kind: "status";
      readonly orderId: string;
      readonly status: "reserved" | "confirmed" | "released";
    };

/** SQL for the inventory schema; the only code that touches its tables. */
export class ReservationStore {
  constructor(private readonly db: Database) {}

  /** Inserts the stock row; false when the SKU already has one. */
  async insertStock(terms: StockTerms): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO inventory.stock (sku, total, per_user_limit, starts_at, ends_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (sku) DO NOTHING RETURNING sku`,
      [terms.sku, terms.stock, terms.perUserLimit, terms.startsAt, terms.endsAt],
    );
    return rows.length === 1;
  }

  async allStock(): Promise<StockTerms[]> {
    const rows = await this.db.query<{
      sku: string;
      total: number;
      per_user_limit: number;
      starts_at: unknown;
      ends_at: unknown;
    }>("SELECT sku, total, per_user_limit, starts_at, ends_at FROM inventory.stock");
    return rows.map((row) => ({
      sku: row.sku,
      stock: row.total,
      perUserLimit: row.per_user_limit,
      startsAt: isoTimestamp(row.starts_at),
      endsAt: isoTimestamp(row.ends_at),
    }));
  }

  async liveReservations(): Promise<Reservation[]> {
    const rows = await this.db.query<{
      order_id: string;
      sku: string;
      user_id: string;
      quantity: number;
      idempotency_key: string;
      status: ReservationStatus;
      created_at: unknown;
      expires_at: unknown;
    }>(
      `SELECT order_id::text AS order_id, sku, user_id, quantity, idempotency_key, status, created_at, expires_at
       FROM inventory.reservations AS r
       WHERE status <> 'released'
         -- A sale that ended over a day ago takes no more orders; its reservations need no memory.
         AND EXISTS (SELECT 1 FROM inventory.stock AS s WHERE s.sku = r.sku AND s.ends_at > now() - interval '1 day')`,
    );
    return rows.map((row) => ({
      orderId: row.order_id,
      sku: row.sku,
      userId: row.user_id,
      quantity: row.quantity,
      idempotencyKey: row.idempotency_key,
      status: row.status,
      reservedAtMs: Date.parse(isoTimestamp(row.created_at)),
      expiresAtMs: Date.parse(isoTimestamp(row.expires_at)),
    }));
  }

  /**
   * Applies a batch of ledger changes in one transaction: status changes first (a release frees a
   * user's idempotency key for a reservation inserted in the same batch), then inserts. Returns the
   * order ids whose insert did not land because the database already holds a live reservation for
   * that user and key; the caller refuses those instead of failing the whole batch.
   */
  async apply(writes: readonly LedgerWrite[]): Promise<Set<string>> {
    const inserts: Reservation[] = [];
    const statuses = new Map<string, "reserved" | "confirmed" | "released">();
    for (const write of writes) {
      if (write.kind === "insert") inserts.push(write.reservation);
      else statuses.set(write.orderId, write.status);
    }
    return this.db.transaction(async (tx) => {
      if (statuses.size > 0) {
        await tx.query(
          `UPDATE inventory.reservations AS r SET status = u.status, updated_at = now()
           FROM unnest($1::bigint[], $2::text[]) AS u(order_id, status)
           WHERE r.order_id = u.order_id AND r.status <> 'released'`,
          [[...statuses.keys()], [...statuses.values()]],
        );
      }
      if (inserts.length === 0) return new Set<string>();
      const landed = new Set(await insertReservations(tx, inserts));
      return new Set(inserts.map((r) => r.orderId).filter((id) => !landed.has(id)));
    });
  }
}

async function insertReservations(tx: Sql, reservations: readonly Reservation[]): Promise<string[]> {
  // One statement for the whole batch: arrays bound as parameters and unnested server-side. The
  // status written is the one at flush time (a reservation confirmed before its row was written
  // is inserted as confirmed); "releasing" is still a live reservation, so "reserved".
  const rows = await tx.query<{ order_id: string }>(
    `INSERT INTO inventory.reservations
       (order_id, sku, user_id, quantity, idempotency_key, status, created_at, expires_at)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
                          $7::timestamptz[], $8::timestamptz[])
     ON CONFLICT DO NOTHING
     RETURNING order_id::text AS order_id`,
    [
      reservations.map((r) => r.orderId),
      reservations.map((r) => r.sku),
      reservations.map((r) => r.userId),
      reservations.map((r) => r.quantity),
      reservations.map((r) => r.idempotencyKey),
      reservations.map((r) => (r.status === "releasing" ? "reserved" : r.status)),
      reservations.map((r) => new Date(r.reservedAtMs).toISOString()),
      reservations.map((r) => new Date(r.expiresAtMs).toISOString()),
    ],
  );
  return rows.map((row) => row.order_id);
}
