// The reservation sweeper on its own, without booting the inventory service: a real in-memory
// book on a clock the test moves, a real store on PGlite, and a backlog the test sets. Its rule:
// an undecided reservation past its expiry goes back on sale only while no order waits in the
// queue, and never while its own order waits in the dead letters; an accepted one never expires.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import { runMigrations } from "../../../src/platform/db/migrations.js";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { MemoryReservationBook } from "../../../src/platform/reservations/memory-reservation-book.js";
import { inventoryService } from "../../../src/services/inventory/index.js";
import { ReservationSweeper } from "../../../src/services/inventory/reservation-sweeper.js";
import type { OrderBacklog } from "../../../src/services/orders/api.js";
import { inventoryParts } from "../../support/inventory-parts.js";

const TTL_MS = 60_000;
const SKU = "SWEEP-1";

describe("reservation sweeper", () => {
  let db: Database;
  const logger = createLogger("silent");
  beforeAll(async () => {
    db = await openPgliteDatabase({ name: "reservation-sweeper" });
    await runMigrations(db, "inventory", inventoryService.migrationsDir);
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  let clock: number;
  let backlog: OrderBacklog;
  let world: ReturnType<typeof build>;
  function build() {
    const book = new MemoryReservationBook(() => clock);
    const { store, reservations, inventory } = inventoryParts({ book, db, logger, ttlMs: TTL_MS });
    const sweeper = new ReservationSweeper({
      book,
      store,
      reservations,
      backlog: async () => backlog,
      log: logger,
    });
    return { inventory, sweeper };
  }

  beforeEach(async () => {
    await db.query("TRUNCATE inventory.reservations, inventory.stock");
    clock = Date.parse("2026-12-01T12:00:00Z");
    backlog = { pending: 0, deadLettered: { orderIds: [], complete: true } };
    world = build();
    await world.inventory.defineStock({
      sku: SKU,
      stock: 3,
      perUserLimit: 1,
      startsAt: new Date(clock - 3_600_000).toISOString(),
      endsAt: new Date(clock + 86_400_000).toISOString(),
    });
  }, 30_000);

  const reserve = (orderId: string, userId: string) =>
    world.inventory.reserve({ orderId, sku: SKU, userId, quantity: 1, idempotencyKey: `k-${orderId}` });
  const levels = () => world.inventory.levels({ sku: SKU });

  it("puts an undecided reservation past its expiry back on sale once nothing waits in the queue", async () => {
    await reserve("101", "u1");
    await world.sweeper.sweep();
    expect(await levels()).toMatchObject({ reserved: 1, available: 2 });
    clock += TTL_MS + 1;
    backlog = { pending: 4, deadLettered: { orderIds: [], complete: true } };
    await world.sweeper.sweep();
    // Four orders wait in the queue: this one's order may be among them.
    expect(await levels()).toMatchObject({ reserved: 1, available: 2 });
    backlog = { pending: 0, deadLettered: { orderIds: [], complete: true } };
    await world.sweeper.sweep();
    expect(await levels()).toMatchObject({ reserved: 0, available: 3 });
  }, 30_000);

  it("keeps a reservation whose order waits in the dead letters, and all of them while that list is incomplete", async () => {
    await reserve("201", "u1");
    await reserve("202", "u2");
    clock += TTL_MS + 1;
    backlog = { pending: 0, deadLettered: { orderIds: ["201"], complete: false } };
    await world.sweeper.sweep();
    expect(await levels()).toMatchObject({ reserved: 2, available: 1 });
    backlog = { pending: 0, deadLettered: { orderIds: ["201"], complete: true } };
    await world.sweeper.sweep();
    // 202 goes back on sale; 201 waits for an operator's replay.
    expect(await levels()).toMatchObject({ reserved: 1, available: 2 });
  }, 30_000);

  it("never expires an accepted reservation", async () => {
    await reserve("301", "u1");
    await world.inventory.settle({ orderId: "301", sku: SKU, decision: "accept" });
    clock += 10 * TTL_MS;
    await world.sweeper.sweep();
    expect(await levels()).toMatchObject({ reserved: 1, available: 2 });
  }, 30_000);
});
