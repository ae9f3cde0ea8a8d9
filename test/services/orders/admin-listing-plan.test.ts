import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database, Row } from "../../../src/platform/db/database.js";
import { runMigrations } from "../../../src/platform/db/migrations.js";
import { openPgDatabase } from "../../../src/platform/db/pg-database.js";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";
import { createShardRouter } from "../../../src/platform/db/shard-router.js";
import type { InventoryApi } from "../../../src/services/inventory/api.js";
import { ordersService } from "../../../src/services/orders/index.js";
import type { OrderStatus } from "../../../src/services/orders/order.js";
import { OrderQueries } from "../../../src/services/orders/order-queries.js";
import { OrderStore } from "../../../src/services/orders/order-store.js";
import { serverAvailable } from "../../support/infra.js";
import {
  createScratchPostgresDatabase,
  type ScratchPostgresDatabase,
} from "../../support/scratch-postgres.js";

/**
 * Orders `first`..`last` as a sale leaves them: the newest tenth still `created` (inside the
 * payment window), older ones mostly `cancelled` (unpaid), a quarter `paid`, some further on.
 * Statuses are therefore not spread evenly over time, which is what misled the planner: it costs
 * "the primary key backwards, filtered by status" as if they were. Ids are snowflake-shaped
 * (time in the high bits, then the virtual shard), in the order of n.
 */
function insertOrders(first: number, last: number, virtualShard = 0): string {
  const newest = last - Math.floor((last - first + 1) / 10);
  return `INSERT INTO orders.orders
      (id, user_id, sku, quantity, price_cents, currency, status, idempotency_key, history, accepted_at, payment_due_at)
    SELECT (n::bigint << 22) | (${virtualShard} << 6), 'user-' || (n % 5000), 'SKU-1', 1, 1999, 'EUR',
           CASE WHEN n > ${newest} THEN 'created'
                WHEN n % 4 = 0 THEN 'paid' WHEN n % 10 = 1 THEN 'completed'
                WHEN n % 1000 = 3 THEN 'refunded' WHEN n % 100 = 5 THEN 'shipped'
                ELSE 'cancelled' END,
           'key-' || n, '[]', now(), now()
    FROM generate_series(${first}, ${last}) AS n`;
}

/** The statement the store sends, recorded so that the test explains that one and no copy of it. */
class RecordingDatabase {
  last: { text: string; params: readonly unknown[] } | undefined;
  constructor(private readonly db: Database) {}
  query<R extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    this.last = { text, params };
    return this.db.query<R>(text, params);
  }
}

async function planOf(db: Database, list: (store: OrderStore) => Promise<unknown>): Promise<string> {
  const recording = new RecordingDatabase(db);
  await list(new OrderStore(recording as unknown as Database));
  const { text, params } = recording.last!;
  const plan = await db.query<{ "QUERY PLAN": string }>(`EXPLAIN ANALYZE ${text}`, params);
  return plan.map((row) => row["QUERY PLAN"]).join("\n");
}

/** Read exactly the page through the index: no table scan, no sort, no row read and thrown away. */
function expectPageReadThrough(plan: string, index: string): void {
  expect(plan).toContain(index);
  expect(plan).not.toContain("Seq Scan");
  expect(plan).not.toContain("Sort");
  expect(plan).not.toContain("Rows Removed by Filter");
}

const STATUSES: OrderStatus[] = ["created", "paid", "cancelled", "completed", "shipped", "refunded"];

const adapters: {
  name: string;
  rows: number;
  skip: boolean;
  open: () => Promise<Database & { drop?(): Promise<void> }>;
}[] = [
  {
    name: "PostgreSQL",
    rows: 500_000,
    skip: !(await serverAvailable("postgres")),
    async open() {
      const scratch: ScratchPostgresDatabase = await createScratchPostgresDatabase();
      const db = await openPgDatabase({ url: scratch.url, name: "admin-listing-plan", poolSize: 2 });
      return Object.assign(db, {
        async drop() {
          await db.close();
          await scratch.drop();
        },
      });
    },
  },
  {
    name: "PGlite",
    rows: 200_000,
    skip: false,
    open: () => openPgliteDatabase({ name: "admin-listing-plan" }),
  },
];

/**
 * GET /admin/orders reads one page of the newest orders, with or without a status, however many
 * orders the shard holds: each form must be answered by walking one index from the cursor, and
 * stop after the page (issue 17, item 5).
 */
for (const adapter of adapters) {
  describe.skipIf(adapter.skip)(`the operator listing's plans on ${adapter.name}`, () => {
    let db: Database & { drop?(): Promise<void> };
    beforeAll(async () => {
      db = await adapter.open();
      await runMigrations(db, "orders", ordersService.migrationsDir);
      await db.query(insertOrders(1, adapter.rows));
      await db.query("ANALYZE orders.orders");
    }, 90_000);
    afterAll(async () => {
      if (db?.drop) await db.drop();
      else await db?.close();
    });

    const middle = () => String(BigInt(Math.floor(adapter.rows / 2)) << 22n);

    it("lists all statuses newest first through the primary key, from the start and from a cursor", async () => {
      expectPageReadThrough(
        await planOf(db, (store) => store.byStatus(undefined, 100, undefined)),
        "orders_pkey",
      );
      expectPageReadThrough(
        await planOf(db, (store) => store.byStatus(undefined, 100, middle())),
        "orders_pkey",
      );
    });

    for (const status of STATUSES) {
      it(`lists ${status} orders newest first through orders_status_newest, from the start and from a cursor`, async () => {
        expectPageReadThrough(
          await planOf(db, (store) => store.byStatus(status, 100, undefined)),
          "orders_status_newest",
        );
        expectPageReadThrough(
          await planOf(db, (store) => store.byStatus(status, 100, middle())),
          "orders_status_newest",
        );
      });
    }

    it("returns the newest orders of the status, in id order, older than the cursor", async () => {
      const store = new OrderStore(db);
      const page = await store.byStatus("paid", 5, middle());
      const n = Math.floor(adapter.rows / 2);
      const expected = [n - 4, n - 8, n - 12, n - 16, n - 20].map((k) => String(BigInt(k) << 22n));
      expect(page.map((order) => order.id)).toEqual(expected);
      expect(page.every((order) => order.status === "paid")).toBe(true);
    });
  });
}

/** Two shards: pages merged newest first under one limit, and the cursor carries across shards. */
describe("the operator listing across shards", () => {
  const shards: Database[] = [];
  beforeAll(async () => {
    for (const name of ["admin-listing-a", "admin-listing-b"]) {
      const db = await openPgliteDatabase({ name });
      await runMigrations(db, "orders", ordersService.migrationsDir);
      shards.push(db);
    }
    // Interleaved in time: orders 1..300 alternate between the shards in runs of 1 to 3.
    for (let n = 1; n <= 300; n++) {
      await shards[Math.floor(n / 2) % 3 === 0 ? 0 : 1]!.query(insertOrders(n, n, n % 2));
    }
  }, 60_000);
  afterAll(async () => {
    await Promise.all(shards.map((db) => db.close()));
  });

  async function everyPage(queries: OrderQueries, status: OrderStatus | undefined): Promise<string[]> {
    const ids: string[] = [];
    let before: string | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const page = await queries.all(status, 7, before);
      ids.push(...page.map((order) => order.id));
      if (page.length < 7) return ids;
      before = page.at(-1)!.id;
    }
    throw new Error("the listing did not end");
  }

  it("walks every order once, newest first, with and without a status", async () => {
    const queries = new OrderQueries(createShardRouter(shards), {} as InventoryApi);
    const all = await everyPage(queries, undefined);
    expect(all).toHaveLength(300);
    expect(all).toEqual([...all].sort((a, b) => (BigInt(b) > BigInt(a) ? 1 : -1)));
    expect(new Set(all).size).toBe(300);

    const paid = await everyPage(queries, "paid");
    const expectedPaid: string[] = [];
    for (let n = 300; n >= 1; n--) {
      if (n % 4 === 0) expectedPaid.push(String((BigInt(n) << 22n) | (BigInt(n % 2) << 6n)));
    }
    expect(paid).toEqual(expectedPaid);
  });
});
