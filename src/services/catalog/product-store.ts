import type { Sql } from "../../platform/db/database.js";
import { isoTimestamp } from "../../platform/db/timestamps.js";
import type { Product } from "./api.js";

const COLUMNS = "id::text AS id, sku, name, price_cents, currency, version, created_at, updated_at";

interface ProductRow {
  [column: string]: unknown;
  id: string;
  sku: string;
  name: string;
  price_cents: number;
  currency: string;
  version: number;
  created_at: unknown;
  updated_at: unknown;
}

function toProduct(row: ProductRow): Product {
  return {
    id: row.id,
    sku: row.sku,
    name: row.name,
    priceCents: row.price_cents,
    currency: row.currency,
    version: row.version,
    createdAt: isoTimestamp(row.created_at),
    updatedAt: isoTimestamp(row.updated_at),
  };
}

export interface ProductFields {
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
  readonly currency: string;
}

/** SQL for catalog.products; the only code that touches that table. */
export class ProductStore {
  constructor(private readonly db: Sql) {}

  /** Inserts; returns undefined when the SKU is taken. */
  async insert(id: string, fields: ProductFields): Promise<Product | undefined> {
    const rows = await this.db.query<ProductRow>(
      `INSERT INTO catalog.products (id, sku, name, price_cents, currency) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (sku) DO NOTHING RETURNING ${COLUMNS}`,
      [id, fields.sku, fields.name, fields.priceCents, fields.currency],
    );
    return rows[0] && toProduct(rows[0]);
  }

  async update(id: string, fields: Omit<ProductFields, "sku">): Promise<Product | undefined> {
    const rows = await this.db.query<ProductRow>(
      `UPDATE catalog.products SET name = $2, price_cents = $3, currency = $4, version = version + 1, updated_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, fields.name, fields.priceCents, fields.currency],
    );
    return rows[0] && toProduct(rows[0]);
  }

  async byId(id: string): Promise<Product | undefined> {
    const rows = await this.db.query<ProductRow>(`SELECT ${COLUMNS} FROM catalog.products WHERE id = $1`, [
      id,
    ]);
    return rows[0] && toProduct(rows[0]);
  }

  async bySku(sku: string): Promise<Product | undefined> {
    const rows = await this.db.query<ProductRow>(`SELECT ${COLUMNS} FROM catalog.products WHERE sku = $1`, [
      sku,
    ]);
    return rows[0] && toProduct(rows[0]);
  }

  /** A page in id order after `afterId` (keyset pagination: cost does not grow with the page number). */
  async page(limit: number, afterId: string | undefined): Promise<Product[]> {
    const rows = await this.db.query<ProductRow>(
      `SELECT ${COLUMNS} FROM catalog.products WHERE id > $1 ORDER BY products.id LIMIT $2`,
      [afterId ?? "0", limit],
    );
    return rows.map(toProduct);
  }

  async allIds(): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>("SELECT id::text AS id FROM catalog.products");
    return rows.map((row) => row.id);
  }

  /** Ids at or above `smallestId`: ids are time-ordered, so this is "minted since" on the primary key. */
  async idsMintedSince(smallestId: string): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      "SELECT id::text AS id FROM catalog.products WHERE id >= $1",
      [smallestId],
    );
    return rows.map((row) => row.id);
  }

  /** Products by id, in no particular order; ids with no product are left out. */
  async byIds(ids: readonly string[]): Promise<Product[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.query<ProductRow>(
      `SELECT ${COLUMNS} FROM catalog.products WHERE id = ANY($1::bigint[])`,
      [ids],
    );
    return rows.map(toProduct);
  }

  /** The ids of the most recently changed products, most recent first: what a warm-up loads. */
  async recentlyUpdatedIds(limit: number): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      "SELECT id::text AS id FROM catalog.products ORDER BY updated_at DESC LIMIT $1",
      [limit],
    );
    return rows.map((row) => row.id);
  }

  /** The most recently changed products: what a warm-up loads first. */
  async recentlyUpdated(limit: number): Promise<Product[]> {
    const rows = await this.db.query<ProductRow>(
      `SELECT ${COLUMNS} FROM catalog.products ORDER BY updated_at DESC LIMIT $1`,
      [limit],
    );
    return rows.map(toProduct);
  }

  async count(): Promise<number> {
    const rows = await this.db.query<{ n: number }>("SELECT count(*)::int AS n FROM catalog.products");
    return rows[0]?.n ?? 0;
  }
}
