import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";
import { decodeEvent, newEvent } from "../../../src/platform/events/domain-event.js";
import { OutboxRelay, writeOutbox } from "../../../src/platform/events/outbox.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { openEmbeddedStream } from "../../../src/platform/queue/embedded/embedded-stream.js";
import type { Stream } from "../../../src/platform/queue/stream.js";

/**
 * On PGlite (one session for the whole process) the relay must not hold a transaction while the
 * stream makes its appends durable: every other query of every service would wait for it.
 */
describe("the outbox relay on a single-session database", () => {
  let dir: string;
  let stream: Stream;
  let db: Database;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "floodgate-relay-"));
    stream = await openEmbeddedStream(join(dir, "log"));
    db = await openPgliteDatabase({ name: "relay" });
    await db.exec(
      "CREATE SCHEMA shop; CREATE TABLE shop.outbox (id bigserial PRIMARY KEY, topic text NOT NULL, event jsonb NOT NULL);",
    );
  }, 60_000);
  afterAll(async () => {
    await stream?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lets other queries run while its appends are under way, then deletes what it appended", async () => {
    expect(db.singleSession).toBe(true);
    const events = [newEvent("thing.happened", { n: 1 }), newEvent("thing.happened", { n: 2 })];
    await db.transaction((tx) =>
      writeOutbox(
        tx,
        "shop",
        events.map((event) => ({ topic: "things", event })),
      ),
    );
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let appending = 0;
    // The stream, with every append held until released (a slow disk or broker).
    const slowStream = new Proxy(stream, {
      get(target, property, receiver) {
        if (property !== "append") return Reflect.get(target, property, receiver);
        return async (...args: Parameters<Stream["append"]>) => {
          appending++;
          await held;
          return target.append(...args);
        };
      },
    });
    const relay = new OutboxRelay({ db, schema: "shop", stream: slowStream, logger: createLogger("silent") });
    const relayed = relay.relayOnce();
    while (appending < events.length) await new Promise((resolve) => setTimeout(resolve, 5));
    // The appends are waiting: the database answers other work meanwhile.
    const other = await Promise.race([
      db.transaction((tx) => tx.query<{ n: number }>("SELECT count(*)::int AS n FROM shop.outbox")),
      new Promise<"blocked">((resolve) => setTimeout(() => resolve("blocked"), 2_000)),
    ]);
    expect(other).toEqual([{ n: 2 }]);
    release();
    expect(await relayed).toBe(2);
    expect(await db.query("SELECT id FROM shop.outbox")).toEqual([]);
    const group = stream.group("things", "shop.check", { visibilityTimeoutMs: 5_000, maxAttempts: 3 });
    const deliveries = await group.fetch(10, 1_000);
    expect(deliveries.map((delivery) => decodeEvent(delivery.data)?.id)).toEqual(
      events.map((event) => event.id),
    );
    await group.close();
  }, 60_000);

  it("appends in the order written, also across ids of different lengths (9, 10, …)", async () => {
    await db.exec(
      "CREATE SCHEMA ordered; CREATE TABLE ordered.outbox (id bigserial PRIMARY KEY, topic text NOT NULL, event jsonb NOT NULL);",
    );
    const events = Array.from({ length: 12 }, (_, n) => newEvent("thing.happened", { n }));
    for (const event of events)
      await db.transaction((tx) => writeOutbox(tx, "ordered", [{ topic: "ordered-things", event }]));
    const relay = new OutboxRelay({ db, schema: "ordered", stream, logger: createLogger("silent") });
    expect(await relay.relayOnce()).toBe(12);
    const group = stream.group("ordered-things", "shop.check", {
      visibilityTimeoutMs: 5_000,
      maxAttempts: 3,
    });
    const deliveries = await group.fetch(20, 1_000);
    // Ordered by the id as text, 10, 11 and 12 went before 2.
    expect(deliveries.map((delivery) => decodeEvent(delivery.data)?.data.n)).toEqual(
      events.map((event) => event.data.n),
    );
    await group.close();
  }, 60_000);
});
