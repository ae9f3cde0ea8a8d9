import { randomBytes } from "node:crypto";
import type { Database } from "../../platform/db/database.js";

export interface NaiveOutcome {
  readonly status: number;
  readonly body: unknown;
}

const UNIQUE_VIOLATION = "23505";

/**
 * The obvious order endpoint's SQL: each request is one transaction that locks the stock row
 * (`SELECT … FOR UPDATE`), checks it, decrements it and inserts the order. Correct (no oversell,
 * a repeated Idempotency-Key gets its first order back), but every request, including every
 * refusal, waits its turn for the same row lock and pays a commit. Tables live in a schema of
 * their own, created here and dropped at the end.
 */
export class NaiveOrders {
  readonly schema = `bench_naive_${process.pid}_${randomBytes(4).toString("hex")}`;
  /** The units each SKU opened with, for the audit's levels. */
  private readonly opened = new Map<string, number>();

  constructor(private readonly db: Database) {}

  async create(stock: readonly { sku: string; units: number }[]): Promise<void> {
    // The schema name is generated above from digits and hex only, so it is safe in SQL text.
    await this.db.exec(`
      CREATE SCHEMA ${this.schema};
      CREATE TABLE ${this.schema}.stock (sku text PRIMARY KEY, available integer NOT NULL);
      CREATE TABLE ${this.schema}.orders (
        id bigserial PRIMARY KEY,
        user_id text NOT NULL,
        sku text NOT NULL,
        quantity integer NOT NULL,
        idempotency_key text,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (user_id, idempotency_key)
      );`);
    for (const { sku, units } of stock) {
      this.opened.set(sku, units);
      await this.db.query(`INSERT INTO ${this.schema}.stock (sku, available) VALUES ($1, $2)`, [sku, units]);
    }
  }

  async place(order: {
    userId: string;
    sku: string;
    quantity: number;
    idempotencyKey: string | undefined;
  }): Promise<NaiveOutcome> {
    try {
      return await this.db.transaction(async (tx) => {
        const [row] = await tx.query<{ available: number }>(
          `SELECT available FROM ${this.schema}.stock WHERE sku = $1 FOR UPDATE`,
          [order.sku],
        );
        if (!row) return { status: 404, body: { error: { code: "unknown_sku", message: "No such SKU." } } };
        if (row.available < order.quantity) {
          return { status: 409, body: { error: { code: "sold_out", message: "The SKU is sold out." } } };
        }
        await tx.query(`UPDATE ${this.schema}.stock SET available = available - $2 WHERE sku = $1`, [
          order.sku,
          order.quantity,
        ]);
        const [inserted] = await tx.query<{ id: string }>(
          `INSERT INTO ${this.schema}.orders (user_id, sku, quantity, idempotency_key) VALUES ($1, $2, $3, $4) RETURNING id`,
          [order.userId, order.sku, order.quantity, order.idempotencyKey ?? null],
        );
        return { status: 202, body: { orderId: inserted?.id, status: "pending" } };
      });
    } catch (error) {
      // The same user and key again: the unique constraint rolled the whole transaction back
      // (stock included); answer with the first order.
      if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
      const [existing] = await this.db.query<{ id: string }>(
        `SELECT id FROM ${this.schema}.orders WHERE user_id = $1 AND idempotency_key = $2`,
        [order.userId, order.idempotencyKey ?? null],
      );
      return { status: 202, body: { orderId: existing?.id, status: "pending" } };
    }
  }

  /**
   * What the bench audits, in the shape Floodgate's `GET /admin/sales/:sku` gives: the naive
   * endpoint reserves nothing (each order is final in its transaction), so reserved is 0.
   */
  async levels(
    sku: string,
  ): Promise<{ stock: number; available: number; reserved: number; sold: number } | undefined> {
    const stock = this.opened.get(sku);
    const [row] = await this.db.query<{ available: number }>(
      `SELECT available FROM ${this.schema}.stock WHERE sku = $1`,
      [sku],
    );
    if (stock === undefined || !row) return undefined;
    return { stock, available: row.available, reserved: 0, sold: stock - row.available };
  }

  /** Stored orders by id, `limit` after `afterId`, as `GET /admin/orders` pages them. */
  async page(
    limit: number,
    afterId: string,
  ): Promise<{ id: string; sku: string; quantity: number; status: string }[]> {
    return this.db.query(
      // By the bigint column: `ORDER BY id` would sort by the text alias ("10" before "9").
      `SELECT o.id::text AS id, o.sku, o.quantity, 'created' AS status FROM ${this.schema}.orders o
       WHERE o.id > $1::bigint ORDER BY o.id LIMIT $2`,
      [afterId, limit],
    );
  }

  async drop(): Promise<void> {
    await this.db.exec(`DROP SCHEMA IF EXISTS ${this.schema} CASCADE`);
  }
}
