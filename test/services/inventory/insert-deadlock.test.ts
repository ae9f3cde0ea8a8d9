import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import { runMigrations } from "../../../src/platform/db/migrations.js";
import { openPgDatabase } from "../../../src/platform/db/pg-database.js";
import type { ReservationInsert } from "../../../src/services/inventory/reservation-store.js";
import { ReservationStore } from "../../../src/services/inventory/reservation-store.js";
import { serverAvailable } from "../../support/infra.js";
import {
  createScratchPostgresDatabase,
  type ScratchPostgresDatabase,
} from "../../support/scratch-postgres.js";

const BUYERS = 2000;
const ROUNDS = 10;

/**
 * Two inventory processes' insert batches for different SKUs (so their stock rows do not order
 * them) whose buyers reuse one idempotency key across the two SKUs, in opposite orders: both
 * transactions take entries of the unique index on live keys. Unless every batch takes them in
 * one order, they deadlock and PostgreSQL aborts one batch, failing every reservation in it.
 */
describe.skipIf(!(await serverAvailable("postgres")))(
  "two processes' reservation batches on shared keys",
  () => {
    let scratch: ScratchPostgresDatabase;
    let db: Database;
    const now = Date.now();

    beforeAll(async () => {
      scratch = await createScratchPostgresDatabase();
      db = await openPgDatabase({ url: scratch.url, name: "insert-deadlock", poolSize: 4 });
      await runMigrations(
        db,
        "inventory",
        join(import.meta.dirname, "../../../src/services/inventory/migrations"),
      );
    }, 60_000);
    afterAll(async () => {
      await db?.close();
      await scratch?.drop();
    });

    const batchFor = (sku: string, round: number, users: number[]): ReservationInsert[] =>
      users.map((user, index) => ({
        reservation: {
          orderId: String(round * 10_000_000 + (sku === "DL-A" ? 0 : 5_000_000) + user),
          sku,
          userId: `buyer-${user}`,
          quantity: 1,
          idempotencyKey: `key-${round}`,
          status: "reserved",
          reservedAtMs: now,
          expiresAtMs: now + 600_000,
        },
        fence: { epoch: 1, taken: round * BUYERS + index + 1 },
      }));

    it("never deadlock: each reservation is inserted once or refused for its key, none fails", async () => {
      const store = new ReservationStore(db);
      for (const sku of ["DL-A", "DL-B"]) {
        await store.insertStock({
          sku,
          stock: 1_000_000,
          perUserLimit: 100,
          startsAt: new Date(now - 60_000).toISOString(),
          endsAt: new Date(now + 3_600_000).toISOString(),
        });
      }
      const users = Array.from({ length: BUYERS }, (_, i) => i);
      for (let round = 0; round < ROUNDS; round++) {
        const [a, b] = await Promise.all([
          store.insertReservations(batchFor("DL-A", round, users)),
          store.insertReservations(batchFor("DL-B", round, [...users].reverse())),
        ]);
        // Each buyer's key went to exactly one of the two SKUs.
        const inserted = [...a, ...b].filter((outcome) => outcome.kind === "inserted");
        expect(inserted).toHaveLength(BUYERS);
        for (const outcome of [...a, ...b]) expect(["inserted", "key_in_use"]).toContain(outcome.kind);
      }
    }, 120_000);
  },
);
