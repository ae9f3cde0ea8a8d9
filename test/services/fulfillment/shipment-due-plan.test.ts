import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import { runMigrations } from "../../../src/platform/db/migrations.js";
import { openPgDatabase } from "../../../src/platform/db/pg-database.js";
import { serverAvailable } from "../../support/infra.js";
import {
  createScratchPostgresDatabase,
  type ScratchPostgresDatabase,
} from "../../support/scratch-postgres.js";

const MIGRATIONS = fileURLToPath(new URL("../../../src/services/fulfillment/migrations", import.meta.url));

/**
 * The sweeps run every 250 ms in every fulfilment process, over a table that only grows (delivered
 * shipments stay): their query must reach the few due rows through the (status, due_at) index,
 * never by reading the table.
 */
describe.skipIf(!(await serverAvailable("postgres")))("the sweeps' query on PostgreSQL", () => {
  let scratch: ScratchPostgresDatabase;
  let db: Database;
  beforeAll(async () => {
    scratch = await createScratchPostgresDatabase();
    db = await openPgDatabase({ url: scratch.url, name: "shipments-plan", poolSize: 2 });
    await runMigrations(db, "fulfillment", MIGRATIONS);
    await db.query(
      `INSERT INTO fulfillment.shipments (id, order_id, user_id, sku, quantity, status, due_at)
       SELECT 's' || n, 'o' || n, 'u', 'SKU', 1,
              CASE WHEN n % 500 = 0 THEN 'in_transit' WHEN n % 700 = 0 THEN 'requested' ELSE 'delivered' END,
              now() - make_interval(secs => n % 60)
       FROM generate_series(1, 50000) AS n`,
    );
    await db.query("ANALYZE fulfillment.shipments");
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await scratch?.drop();
  });

  for (const status of ["requested", "in_transit", "cancelling"]) {
    it(`finds due ${status} shipments through the shipments_due index`, async () => {
      const plan = await db.query<{ "QUERY PLAN": string }>(
        `EXPLAIN SELECT id FROM fulfillment.shipments WHERE status = '${status}' AND due_at <= now()
         ORDER BY due_at LIMIT 100 FOR UPDATE SKIP LOCKED`,
      );
      const text = plan.map((row) => row["QUERY PLAN"]).join("\n");
      expect(text).toContain("shipments_due");
      expect(text).not.toContain("Seq Scan");
    });
  }
});
