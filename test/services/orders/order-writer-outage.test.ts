import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import { runMigrations } from "../../../src/platform/db/migrations.js";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";
import { createShardRouter, virtualShardForKey } from "../../../src/platform/db/shard-router.js";
import { SnowflakeGenerator } from "../../../src/platform/ids/snowflake.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";
import { openEmbeddedStream } from "../../../src/platform/queue/embedded/embedded-stream.js";
import type { Stream } from "../../../src/platform/queue/stream.js";
import type { InventoryApi } from "../../../src/services/inventory/api.js";
import { ordersService } from "../../../src/services/orders/index.js";
import { encodeOrderRequest, ORDER_REQUESTS_TOPIC } from "../../../src/services/orders/order-request.js";
import { OrderWriter } from "../../../src/services/orders/order-writer.js";

describe("order worker during a dependency outage", () => {
  const dir = mkdtempSync(join(tmpdir(), "floodgate-writer-"));
  let db: Database | undefined;
  let stream: Stream | undefined;
  afterAll(async () => {
    await stream?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps retrying a failing batch without using up delivery attempts, then stores every order once", async () => {
    db = await openPgliteDatabase({ name: "writer-test" });
    await runMigrations(db, "orders", ordersService.migrationsDir);
    stream = await openEmbeddedStream(join(dir, "queue"));
    const ids = new SnowflakeGenerator(1);
    const orderIds: string[] = [];
    for (let i = 0; i < 20; i++) {
      const orderId = ids.next(virtualShardForKey(`u${i}`));
      orderIds.push(orderId);
      await stream.append(
        ORDER_REQUESTS_TOPIC,
        encodeOrderRequest({
          orderId,
          userId: `u${i}`,
          sku: "OUTAGE-1",
          quantity: 1,
          priceCents: 100,
          currency: "EUR",
          idempotencyKey: `k${i}`,
          acceptedAt: new Date().toISOString(),
        }),
      );
    }
    // Inventory is down for the first 2.5 s: longer than a message's two allowed deliveries
    // (1 s apart) would last, so counting each failed batch as an attempt would dead-letter them.
    const downUntil = Date.now() + 2_500;
    let calls = 0;
    const inventory = {
      confirm: async ({ reservations }: { reservations: readonly { orderId: string }[] }) => {
        calls++;
        if (Date.now() < downUntil) throw new Error("inventory unavailable");
        return {
          confirmed: reservations.map((r) => r.orderId),
          notConfirmed: [],
        };
      },
    } as unknown as InventoryApi;
    const group = stream.group(ORDER_REQUESTS_TOPIC, "writers", {
      visibilityTimeoutMs: 30_000,
      maxAttempts: 2,
    });
    const writer = new OrderWriter({
      group,
      databases: createShardRouter([db]),
      inventory,
      logger: createLogger("silent"),
      metrics: new Metrics(),
      batchSize: 50,
      writeRate: 0,
    });
    writer.start();
    const deadline = Date.now() + 30_000;
    while ((await group.lag()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await writer.stop();

    expect(calls).toBeGreaterThan(1);
    const rows = await db.query<{ id: string }>("SELECT id::text AS id FROM orders.orders ORDER BY id");
    expect(rows.map((row) => row.id)).toEqual([...orderIds].sort());
    // Nothing went to the dead-letter topic although the outage outlasted maxAttempts deliveries.
    expect((await stream.stats(`${ORDER_REQUESTS_TOPIC}.dead`)).appended).toBe(0);
  });
});
