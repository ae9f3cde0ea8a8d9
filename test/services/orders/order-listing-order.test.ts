import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import { runMigrations } from "../../../src/platform/db/migrations.js";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";
import { ordersService } from "../../../src/services/orders/index.js";
import { OrderStore } from "../../../src/services/orders/order-store.js";

/**
 * Listings sort by the id's number, not by its text (the queries select `id::text AS id`, and a
 * bare ORDER BY id would sort that alias: "10" before "9"). Snowflake ids grow a digit one day.
 */
describe("order listings", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openPgliteDatabase({ name: "order-listing-order" });
    await runMigrations(db, "orders", ordersService.migrationsDir);
    for (const id of ["9", "10", "100"]) {
      await db.query(
        `INSERT INTO orders.orders (id, user_id, sku, quantity, price_cents, currency, status, idempotency_key, history, accepted_at, payment_due_at)
         VALUES ($1::bigint, 'lister', 'SKU', 1, 100, 'EUR', 'created', $2, '[]', now(), now())`,
        [id, `key-${id}`],
      );
    }
  }, 60_000);
  afterAll(async () => db?.close());

  it("are newest first by number, for a user and by status", async () => {
    const store = new OrderStore(db);
    expect((await store.byUser("lister", 10, undefined)).map((order) => order.id)).toEqual([
      "100",
      "10",
      "9",
    ]);
    expect((await store.byStatus("created", 10, undefined)).map((order) => order.id)).toEqual([
      "100",
      "10",
      "9",
    ]);
    expect((await store.byStatus(undefined, 2, undefined)).map((order) => order.id)).toEqual(["100", "10"]);
  });
});
