import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Database, Row, TransactionSql } from "../../../src/platform/db/database.js";
import { runMigrations } from "../../../src/platform/db/migrations.js";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";
import { createShardRouter, virtualShardForKey } from "../../../src/platform/db/shard-router.js";
import { AppError } from "../../../src/platform/errors/catalogue.js";
import { blameFor } from "../../../src/platform/errors/failure-blame.js";
import { SnowflakeGenerator } from "../../../src/platform/ids/snowflake.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";
import { openEmbeddedStream } from "../../../src/platform/queue/embedded/embedded-stream.js";
import type { ConsumerGroup, Delivery, Stream } from "../../../src/platform/queue/stream.js";
import type { InventoryApi } from "../../../src/services/inventory/api.js";
import { ordersService } from "../../../src/services/orders/index.js";
import {
  encodeOrderRequest,
  ORDER_REQUESTS_TOPIC,
  type OrderRequest,
} from "../../../src/services/orders/order-request.js";
import { OrderWriter } from "../../../src/services/orders/order-writer.js";

/**
 * Delivery attempts are spent only on a message's own failure. With a 1 s visibility timeout and
 * two attempts per message, an outage spends them in about a second unless the worker holds its
 * messages (touching them) and never gives them back for it.
 */
const VISIBILITY_TIMEOUT_MS = 1_000;
const MAX_ATTEMPTS = 2;
/** Short waits, so the outage below spans many retries and many visibility timeouts. */
const FAST_RETRIES = { retryInitialMs: 100, retryMaxMs: 1_000, touchIntervalMs: 250 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Fixture {
  readonly stream: Stream;
  readonly group: ConsumerGroup;
  /** Every delivery the worker was handed, and every nak it sent. */
  readonly seen: { attempts: number[]; naks: string[] };
  readonly orderIds: string[];
}

// One database for the file (PGlite takes seconds to start on a busy machine); each test empties it.
let db: Database;
/** A PGlite that was closed: what the worker's database calls meet while "the database is down". */
let closedDb: Database;
beforeAll(async () => {
  [db, closedDb] = await Promise.all([
    openPgliteDatabase({ name: "attempts" }),
    openPgliteDatabase({ name: "attempts-closed" }),
  ]);
  await Promise.all([runMigrations(db, "orders", ordersService.migrationsDir), closedDb.close()]);
});
afterAll(async () => {
  await db?.close();
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(orders: number, overrides: (i: number) => Partial<OrderRequest> = () => ({})) {
  const dir = mkdtempSync(join(tmpdir(), "floodgate-attempts-"));
  await db.query("DELETE FROM orders.orders");
  const stream = await openEmbeddedStream(join(dir, "queue"));
  cleanups.push(async () => {
    await stream.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const ids = new SnowflakeGenerator(1);
  const orderIds: string[] = [];
  for (let i = 0; i < orders; i++) {
    const orderId = ids.next(virtualShardForKey(`u${i}`));
    orderIds.push(orderId);
    await stream.append(
      ORDER_REQUESTS_TOPIC,
      encodeOrderRequest({
        orderId,
        userId: `u${i}`,
        sku: "ATTEMPTS-1",
        quantity: 1,
        priceCents: 100,
        currency: "EUR",
        idempotencyKey: `k${i}`,
        acceptedAt: new Date().toISOString(),
        ...overrides(i),
      }),
    );
  }
  const seen = { attempts: [] as number[], naks: [] as string[] };
  const group = watched(
    stream.group(ORDER_REQUESTS_TOPIC, "writers", {
      visibilityTimeoutMs: VISIBILITY_TIMEOUT_MS,
      maxAttempts: MAX_ATTEMPTS,
    }),
    seen,
  );
  return { stream, group, seen, orderIds } satisfies Fixture;
}

/** The group as the worker sees it, recording what it is handed and what it gives back. */
function watched(group: ConsumerGroup, seen: Fixture["seen"]): ConsumerGroup {
  return {
    fetch: async (max, waitMs) =>
      (await group.fetch(max, waitMs)).map((delivery): Delivery => {
        seen.attempts.push(delivery.attempt);
        return {
          ...delivery,
          ack: () => delivery.ack(),
          touch: () => delivery.touch(),
          nak: (delayMs) => {
            seen.naks.push(delivery.id);
            return delivery.nak(delayMs);
          },
        };
      }),
    lag: () => group.lag(),
    close: () => group.close(),
  };
}

/** An inventory that confirms everything, except while `failure` says otherwise for an order. */
function inventory(failure: (orderId: string) => Error | undefined): InventoryApi {
  return {
    confirm: async ({ reservations }: { reservations: readonly { orderId: string }[] }) => {
      for (const { orderId } of reservations) {
        const error = failure(orderId);
        if (error) throw error;
      }
      return { confirmed: reservations.map((r) => r.orderId), notConfirmed: [] };
    },
  } as unknown as InventoryApi;
}

/** `db`, except while `isDown()`: then every call fails as a closed PGlite fails. */
function switchable(isDown: () => boolean): Database {
  const pick = () => (isDown() ? closedDb : db);
  return {
    name: db.name,
    query: <R extends Row = Row>(text: string, params?: readonly unknown[]) => pick().query<R>(text, params),
    transaction: <T>(work: (tx: TransactionSql) => Promise<T>) => pick().transaction(work),
    exec: (script: string) => pick().exec(script),
    close: async () => {},
  };
}

async function drained(group: ConsumerGroup, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await group.lag()) > 0) {
    if (Date.now() > deadline) throw new Error(`the worker did not drain the queue within ${timeoutMs} ms`);
    await sleep(100);
  }
}

async function storedIds(): Promise<string[]> {
  const rows = await db.query<{ id: string }>("SELECT id::text AS id FROM orders.orders ORDER BY id");
  return rows.map((row) => row.id);
}

async function deadLettered(stream: Stream): Promise<string[]> {
  const letters = await stream.deadLetters(ORDER_REQUESTS_TOPIC, { limit: 100 });
  return letters.map((letter) => (JSON.parse(Buffer.from(letter.data).toString()) as OrderRequest).orderId);
}

describe("order worker: delivery attempts are spent only on a message's own failure", () => {
  it("holds its batch through a 17 s outage (inventory, then the database) without spending an attempt", async () => {
    const { stream, group, seen, orderIds } = await setUp(20);
    // 17 s: longer than the ~15.5 s of whole-batch retries the worker used to allow itself before
    // giving messages back one by one, and than 17 visibility timeouts. Two kinds of outage in a
    // row: the inventory refusing (dependency_failed), then the database closed under the worker.
    const startedAt = Date.now();
    const inventoryDownUntil = startedAt + 9_000;
    const databaseDownUntil = startedAt + 17_000;
    let confirmsRefused = 0;
    const writer = new OrderWriter({
      group,
      databases: createShardRouter([
        switchable(() => Date.now() >= inventoryDownUntil && Date.now() < databaseDownUntil),
      ]),
      inventory: inventory(() => {
        if (Date.now() >= inventoryDownUntil) return undefined;
        confirmsRefused++;
        return new AppError("dependency_failed", "inventory.confirm answered 502 (scripted outage)");
      }),
      logger: createLogger("silent"),
      metrics: new Metrics(),
      batchSize: 50,
      writeRate: 0,
      ...FAST_RETRIES,
    });
    writer.start();
    try {
      await drained(group, 28_000);
    } finally {
      await writer.stop();
    }

    // Handed over once each, never given back, nothing dead-lettered: no attempt was spent.
    expect(await deadLettered(stream)).toEqual([]);
    expect((await stream.stats(ORDER_REQUESTS_TOPIC)).deadLetters).toBe(0);
    expect(seen.naks).toEqual([]);
    expect(new Set(seen.attempts)).toEqual(new Set([1]));
    // And the outage was real: it lasted its 17 s, the worker kept asking throughout.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(17_000);
    expect(confirmsRefused).toBeGreaterThan(5);
    expect(await storedIds()).toEqual([...orderIds].sort());
  });

  it("still gives back a message that fails on its own while the others are stored, until it is dead-lettered", async () => {
    // Order 3 breaks the inventory for itself (an unclear error: only the others going through
    // shows it is its own fault); order 7 breaks a table constraint (quantity 0, class 23).
    const { stream, group, seen, orderIds } = await setUp(12, (i) => (i === 7 ? { quantity: 0 } : {}));
    const poisonedInventory = orderIds[3]!;
    const badRow = orderIds[7]!;
    const writer = new OrderWriter({
      group,
      databases: createShardRouter([db]),
      inventory: inventory((orderId) =>
        orderId === poisonedInventory ? new TypeError("Cannot read properties of undefined") : undefined,
      ),
      logger: createLogger("silent"),
      metrics: new Metrics(),
      batchSize: 50,
      writeRate: 0,
      ...FAST_RETRIES,
    });
    writer.start();
    try {
      await drained(group, 20_000);
    } finally {
      await writer.stop();
    }

    const healthy = orderIds.filter((id) => id !== poisonedInventory && id !== badRow);
    expect(await storedIds()).toEqual([...healthy].sort());
    expect((await deadLettered(stream)).sort()).toEqual([poisonedInventory, badRow].sort());
    // Each poison was given back once per attempt it had; the last one dead-lettered it.
    expect(seen.naks.length).toBe(2 * MAX_ATTEMPTS);
    expect(Math.max(...seen.attempts)).toBe(MAX_ATTEMPTS);
  });

  it("stops during an outage at once, giving nothing back", async () => {
    const { group, seen } = await setUp(5);
    const writer = new OrderWriter({
      group,
      databases: createShardRouter([db]),
      inventory: inventory(
        () => new AppError("dependency_timeout", "inventory.confirm timed out (scripted)"),
      ),
      logger: createLogger("silent"),
      metrics: new Metrics(),
      batchSize: 50,
      writeRate: 0,
      // A backoff far longer than the test: stop() must not wait for it.
      retryInitialMs: 60_000,
      retryMaxMs: 60_000,
      touchIntervalMs: 250,
    });
    writer.start();
    while (seen.attempts.length < 5) await sleep(20);
    await sleep(2 * VISIBILITY_TIMEOUT_MS); // held, and touched, past the visibility timeout

    const stopping = Date.now();
    await writer.stop();

    expect(Date.now() - stopping).toBeLessThan(1_000);
    expect(seen.naks).toEqual([]);
    expect(new Set(seen.attempts)).toEqual(new Set([1]));
    // Let go without a nak: back after the visibility timeout, as their second attempt.
    const again: Delivery[] = [];
    const deadline = Date.now() + 3 * VISIBILITY_TIMEOUT_MS;
    while (again.length < 5 && Date.now() < deadline) again.push(...(await group.fetch(10, 200)));
    expect(again.map((delivery) => delivery.attempt)).toEqual([2, 2, 2, 2, 2]);
  });
});

describe("whose fault a failed store is", () => {
  const failureOf = (work: Promise<unknown>) =>
    work.then(
      () => expect.unreachable("expected a failure"),
      (error: unknown) => error,
    );

  it("blames the message for values PostgreSQL refuses, a dependency for one it cannot reach, and is unsure otherwise", async () => {
    expect(blameFor(await failureOf(db.query("SELECT 'x'::int")))).toBe("message"); // 22P02
    expect(blameFor(await failureOf(db.query("SELECT 1 FROM (VALUES (0)) AS v(q) WHERE 1 / q = 1")))).toBe(
      "message",
    ); // 22012
    expect(blameFor(await failureOf(closedDb.query("SELECT 1")))).toBe("dependency");
    expect(
      blameFor(new Error("storing failed", { cause: await failureOf(closedDb.query("SELECT 1")) })),
    ).toBe("dependency");
    for (const code of ["dependency_failed", "dependency_timeout", "unavailable", "not_accepted"] as const) {
      expect(blameFor(new AppError(code))).toBe("dependency");
    }
    expect(
      blameFor(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })),
    ).toBe("dependency");
    expect(blameFor(Object.assign(new Error("terminating connection"), { code: "57P01" }))).toBe(
      "dependency",
    );
    expect(blameFor(Object.assign(new Error("could not serialize access"), { code: "40001" }))).toBe(
      "dependency",
    );
    // Could be the message or the inventory: only other work going through can tell.
    expect(blameFor(new AppError("internal_error"))).toBe("unclear");
    expect(blameFor(new AppError("unauthorized"))).toBe("unclear");
    expect(blameFor(new TypeError("Cannot read properties of undefined"))).toBe("unclear");
  });
});
