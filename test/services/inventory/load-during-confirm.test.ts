import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database, TransactionSql } from "../../../src/platform/db/database.js";
import { runMigrations } from "../../../src/platform/db/migrations.js";
import { openPgDatabase } from "../../../src/platform/db/pg-database.js";
import { ReservationStore } from "../../../src/services/inventory/reservation-store.js";
import { serverAvailable } from "../../support/infra.js";
import {
  createScratchPostgresDatabase,
  type ScratchPostgresDatabase,
} from "../../support/scratch-postgres.js";

/**
 * A load reads a SKU's live reservations, then its confirmed ones a page at a time, each statement
 * its own snapshot; a confirm does not wait for the SKU's row lock the load holds. A reservation
 * confirmed between the two reads must be counted once (as live), not also in `sold`.
 */
describe.skipIf(!(await serverAvailable("postgres")))("loading a SKU while its orders are confirmed", () => {
  let scratch: ScratchPostgresDatabase;
  let db: Database;
  /** Another inventory process's connection pool, for the racing confirm. */
  let other: Database;
  beforeAll(async () => {
    scratch = await createScratchPostgresDatabase();
    db = await openPgDatabase({ url: scratch.url, name: "load-during-confirm", poolSize: 4 });
    await runMigrations(
      db,
      "inventory",
      join(import.meta.dirname, "../../../src/services/inventory/migrations"),
    );
    other = await openPgDatabase({ url: scratch.url, name: "load-during-confirm-other", poolSize: 1 });
  }, 60_000);
  afterAll(async () => {
    await other?.close();
    await db?.close();
    await scratch?.drop();
  });

  it("counts a reservation confirmed during the load once", async () => {
    const store = new ReservationStore(db);
    const now = Date.now();
    await store.insertStock({
      sku: "LOAD-1",
      stock: 10,
      perUserLimit: 5,
      startsAt: new Date(now - 60_000).toISOString(),
      endsAt: new Date(now + 3_600_000).toISOString(),
    });
    const outcomes = await store.insertReservations(
      [1, 2, 3].map((n) => ({
        reservation: {
          orderId: String(n),
          sku: "LOAD-1",
          userId: "buyer",
          quantity: 1,
          idempotencyKey: `k${n}`,
          status: "reserved" as const,
          reservedAtMs: now,
          expiresAtMs: now + 600_000,
        },
        fence: { epoch: 1, taken: n },
      })),
    );
    expect(outcomes.map((o) => o.kind)).toEqual(["inserted", "inserted", "inserted"]);
    await store.confirm(["1"]);

    // Order 2 is confirmed by another session right after the load read the live rows.
    const racing: Database = {
      ...db,
      name: db.name,
      query: db.query.bind(db),
      exec: db.exec.bind(db),
      close: db.close.bind(db),
      transaction: <T>(work: (tx: TransactionSql) => Promise<T>) =>
        db.transaction((tx) =>
          work({
            ...tx,
            exec: tx.exec.bind(tx),
            query: async (text: string, params?: readonly unknown[]) => {
              const rows = await tx.query(text, params);
              if (text.includes("status IN ('reserved', 'accepted')"))
                await new ReservationStore(other).confirm(["2"]);
              return rows as never;
            },
          } as TransactionSql),
        ),
    } as Database;
    const record = await new ReservationStore(racing).recordForLoad("LOAD-1", 1);
    expect(record!.reservations.map((r) => r.orderId).sort()).toEqual(["2", "3"]);
    expect(record!.settled.sold).toBe(1);
    expect(record!.settled.heldByUser.get("buyer")).toBe(1);
  }, 60_000);
});
