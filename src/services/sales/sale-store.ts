import type { Sql } from "../../platform/db/database.js";
import { isoTimestamp } from "../../platform/db/timestamps.js";
import type { Sale } from "./api.js";

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
  constructor(private readonly db: Sql) {}

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

  async bySku(sku: string): Promise<Sale | undefined> {
    const rows = await this.db.query<SaleRow>(`SELECT ${COLUMNS} FROM sales.sales WHERE sku = $1`, [sku]);
    return rows[0] && toSale(rows[0]);
  }
}
