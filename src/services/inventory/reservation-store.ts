import type { Database, Sql } from "../../platform/db/database.js";
import { isoTimestamp } from "../../platform/db/timestamps.js";
import type { Reservation, SaleTerms } from "../../platform/reservations/reservation-book.js";
import type { ReleaseReason } from "./api.js";

/**
 * A change to persist: a new reservation, a release, or a confirmation. A confirmation carries
 * the whole reservation: if its row is missing (its insert was lost with an outcome-unknown
 * timeout, then a replay re-appended the order), the row is written then.
 */
export type LedgerWrite =
  | { readonly kind: "insert"; readonly reservation: Reservation }
  | { readonly kind: "release"; readonly orderId: string; readonly reason: ReleaseReason }
  | { readonly kind: "confirm"; readonly reservation: Reservation };

/** A reservation row as the database holds it. */
export interface RecordedReservation {
  readonly status: "reserved" | "confirmed" | "released";
  readonly releaseReason: ReleaseReason | null;
  readonly reservation: Reservation;
}

/** Units held per SKU according to the database of record. */
export interface RecordedStock {
  readonly sku: string;
  readonly stock: number;
  readonly reserved: number;
  readonly sold: number;
}

type ReservationRow = {
  order_id: string;
  sku: string;
  user_id: string;
  quantity: number;
  idempotency_key: string;
  status: "reserved" | "confirmed";
  created_at: unknown;
  expires_at: unknown;
};

const RESERVATION_COLUMNS =
  "order_id::text AS order_id, sku, user_id, quantity, idempotency_key, status, created_at, expires_at";

function reservationOf(row: ReservationRow): Reservation {
  return {
    orderId: row.order_id,
    sku: row.sku,
    userId: row.user_id,
    quantity: row.quantity,
    idempotencyKey: row.idempotency_key,
    status: row.status,
    reservedAtMs: Date.parse(isoTimestamp(row.created_at)),
    expiresAtMs: Date.parse(isoTimestamp(row.expires_at)),
  };
}

/** SQL for the inventory schema; the only code that touches its tables. */
export class ReservationStore {
  constructor(private readonly db: Database) {}

  /** Inserts the stock row; false when the SKU already has one. */
  async insertStock(terms: SaleTerms): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO inventory.stock (sku, total, per_user_limit, starts_at, ends_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (sku) DO NOTHING RETURNING sku`,
      [terms.sku, terms.stock, terms.perUserLimit, terms.startsAt, terms.endsAt],
    );
    return rows.length === 1;
  }

  /** Sales still taking orders or that ended less than a day ago (older ones need no live stock). */
  async recentStock(sku?: string): Promise<SaleTerms[]> {
    const rows = await this.db.query<{
      sku: string;
      total: number;
      per_user_limit: number;
      starts_at: unknown;
      ends_at: unknown;
    }>(
      `SELECT sku, total, per_user_limit, starts_at, ends_at FROM inventory.stock
       WHERE ends_at > now() - interval '1 day' AND ($1::text IS NULL OR sku = $1)`,
      [sku ?? null],
    );
    return rows.map((row) => ({
      sku: row.sku,
      stock: row.total,
      perUserLimit: row.per_user_limit,
      startsAt: isoTimestamp(row.starts_at),
      endsAt: isoTimestamp(row.ends_at),
    }));
  }

  /** Live (not released) reservations of the given SKUs. */
  async liveReservations(skus: readonly string[]): Promise<Reservation[]> {
    const rows = await this.db.query<ReservationRow>(
      `SELECT ${RESERVATION_COLUMNS} FROM inventory.reservations
       WHERE sku = ANY($1::text[]) AND status <> 'released'`,
      [skus],
    );
    return rows.map(reservationOf);
  }

  /** A live reservation by its order id. */
  async reservation(orderId: string): Promise<Reservation | undefined> {
    const rows = await this.db.query<ReservationRow>(
      `SELECT ${RESERVATION_COLUMNS} FROM inventory.reservations WHERE order_id = $1 AND status <> 'released'`,
      [orderId],
    );
    return rows[0] && reservationOf(rows[0]);
  }

  /** The rows of these order ids, released ones included (absent: never written). */
  async rows(orderIds: readonly string[]): Promise<Map<string, RecordedReservation>> {
    if (orderIds.length === 0) return new Map();
    const rows = await this.db.query<
      Omit<ReservationRow, "status"> & {
        status: "reserved" | "confirmed" | "released";
        release_reason: string | null;
      }
    >(
      `SELECT ${RESERVATION_COLUMNS}, release_reason FROM inventory.reservations WHERE order_id = ANY($1::bigint[])`,
      [orderIds],
    );
    return new Map(
      rows.map((row) => [
        row.order_id,
        {
          status: row.status,
          releaseReason: row.release_reason as ReleaseReason | null,
          reservation: reservationOf({
            ...row,
            status: row.status === "confirmed" ? "confirmed" : "reserved",
          }),
        },
      ]),
    );
  }

  /** What the database says each recent sale holds: the figures reconciliation compares. */
  async recordedStock(): Promise<RecordedStock[]> {
    const rows = await this.db.query<{ sku: string; total: number; reserved: string; sold: string }>(
      `SELECT s.sku, s.total,
              COALESCE(SUM(r.quantity) FILTER (WHERE r.status = 'reserved'), 0)::text AS reserved,
              COALESCE(SUM(r.quantity) FILTER (WHERE r.status = 'confirmed'), 0)::text AS sold
       FROM inventory.stock AS s LEFT JOIN inventory.reservations AS r ON r.sku = s.sku AND r.status <> 'released'
       WHERE s.ends_at > now() - interval '1 day'
       GROUP BY s.sku, s.total ORDER BY s.sku`,
    );
    return rows.map((row) => ({
      sku: row.sku,
      stock: row.total,
      reserved: Number(row.reserved),
      sold: Number(row.sold),
    }));
  }

  /**
   * Applies a batch of changes in one transaction: releases first (a release frees a user's
   * idempotency key for a reservation inserted in the same batch), then inserts, then
   * confirmations (which may find the row an insert of this batch just wrote). Returns the order
   * ids whose insert did not land because the database already holds a live reservation for that
   * user and key; the caller refuses those instead of failing the whole batch.
   */
  async apply(writes: readonly LedgerWrite[]): Promise<Set<string>> {
    const inserts: Reservation[] = [];
    const confirms = new Map<string, Reservation>();
    const releases = new Map<string, ReleaseReason>();
    for (const write of writes) {
      if (write.kind === "insert") inserts.push(write.reservation);
      else if (write.kind === "confirm") confirms.set(write.reservation.orderId, write.reservation);
      else releases.set(write.orderId, write.reason);
    }
    return this.db.transaction(async (tx) => {
      if (releases.size > 0) {
        await tx.query(
          `UPDATE inventory.reservations AS r SET status = 'released', release_reason = u.reason, updated_at = now()
           FROM unnest($1::bigint[], $2::text[]) AS u(order_id, reason)
           WHERE r.order_id = u.order_id AND r.status <> 'released'`,
          [[...releases.keys()], [...releases.values()]],
        );
      }
      let refused = new Set<string>();
      if (inserts.length > 0) {
        const landed = new Set(await insertReservations(tx, inserts, "DO NOTHING"));
        refused = new Set(inserts.map((r) => r.orderId).filter((id) => !landed.has(id)));
      }
      if (confirms.size > 0) {
        await insertReservations(
          tx,
          [...confirms.values()].map((r) => ({ ...r, status: "confirmed" as const })),
          `(order_id) DO UPDATE SET status = 'confirmed', updated_at = now()
           WHERE inventory.reservations.status = 'reserved'`,
        );
      }
      return refused;
    });
  }
}

async function insertReservations(
  tx: Sql,
  reservations: readonly Reservation[],
  onConflict: string,
): Promise<string[]> {
  // One statement for the whole batch: arrays bound as parameters and unnested server-side. The
  // status written is the one at flush time (a reservation confirmed before its row was written
  // is inserted as confirmed); "releasing" is still a live reservation, so "reserved".
  const rows = await tx.query<{ order_id: string }>(
    `INSERT INTO inventory.reservations
       (order_id, sku, user_id, quantity, idempotency_key, status, created_at, expires_at)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[],
                          $7::timestamptz[], $8::timestamptz[])
     ON CONFLICT ${onConflict}
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
