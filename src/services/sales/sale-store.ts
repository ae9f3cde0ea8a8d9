import type { Database } from "../../platform/db/database.js";
import { isoTimestamp } from "../../platform/db/timestamps.js";
import type { Sale, SaleChangeRecord } from "./api.js";

interface SaleRow {
  [column: string]: unknown;
  sku: string;
  stock: number;
  per_user_limit: number;
  starts_at: unknown;
  ends_at: unknown;
  created_at: unknown;
}

function toSale(row: SaleRow): Sale {
  return {
    sku: row.sku,
    stock: row.stock,
    perUserLimit: row.per_user_limit,
    startsAt: isoTimestamp(row.starts_at),
    endsAt: isoTimestamp(row.ends_at),
    createdAt: isoTimestamp(row.created_at),
  };
}

const COLUMNS = "sku, stock, per_user_limit, starts_at, ends_at, created_at";

/** SQL for sales.sales; the only code that touches that table. */
export class SaleStore {
  constructor(private readonly db: Database) {}

  async insert(sale: Omit<Sale, "createdAt">): Promise<Sale> {
    // Idempotent: inventory already refused a second sale for the SKU, so a row here can only be
    // this sale's own, left by an earlier attempt that failed after inserting.
    const rows = await this.db.query<SaleRow>(
      `INSERT INTO sales.sales (sku, stock, per_user_limit, starts_at, ends_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (sku) DO UPDATE SET sku = EXCLUDED.sku RETURNING ${COLUMNS}`,
      [sale.sku, sale.stock, sale.perUserLimit, sale.startsAt, sale.endsAt],
    );
    return toSale(rows[0]!);
  }

  /** Applies a change the inventory accepted, and records who made it and what it was. */
  async change(
    sku: string,
    change: Omit<SaleChangeRecord, "changedAt">,
  ): Promise<{ sale: Sale; record: SaleChangeRecord } | undefined> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query<SaleRow>(
        `UPDATE sales.sales SET stock = $2, ends_at = $3 WHERE sku = $1 RETURNING ${COLUMNS}`,
        [sku, change.stock.after, change.endsAt.after],
      );
      if (!rows[0]) return undefined;
      const [recorded] = await tx.query<{ changed_at: unknown }>(
        `INSERT INTO sales.sale_changes (sku, changed_by, stock_before, stock_after, ends_before, ends_after)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING changed_at`,
        [
          sku,
          change.changedBy,
          change.stock.before,
          change.stock.after,
          change.endsAt.before,
          change.endsAt.after,
        ],
      );
      return { sale: toSale(rows[0]), record: { ...change, changedAt: isoTimestamp(recorded!.changed_at) } };
    });
  }

  /** The changes made to a sale, newest first. */
  async changes(sku: string, limit = 100): Promise<SaleChangeRecord[]> {
    const rows = await this.db.query<{
      changed_at: unknown;
      changed_by: string;
      stock_before: number;
      stock_after: number;
      ends_before: unknown;
      ends_after: unknown;
    }>(
      `SELECT changed_at, changed_by, stock_before, stock_after, ends_before, ends_after
       FROM sales.sale_changes WHERE sku = $1 ORDER BY sale_changes.id DESC LIMIT $2`,
      [sku, limit],
    );
    return rows.map((row) => ({
      changedAt: isoTimestamp(row.changed_at),
      changedBy: row.changed_by,
      stock: { before: row.stock_before, after: row.stock_after },
      endsAt: { before: isoTimestamp(row.ends_before), after: isoTimestamp(row.ends_after) },
    }));
  }

  async bySku(sku: string): Promise<Sale | undefined> {
    const rows = await this.db.query<SaleRow>(`SELECT ${COLUMNS} FROM sales.sales WHERE sku = $1`, [sku]);
    return rows[0] && toSale(rows[0]);
  }
}
