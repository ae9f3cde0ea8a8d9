import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";
import { encodeEvent, newEvent } from "../../../src/platform/events/domain-event.js";
import { EventConsumer } from "../../../src/platform/events/event-consumer.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";
import { openEmbeddedStream } from "../../../src/platform/queue/embedded/embedded-stream.js";
import type { Stream } from "../../../src/platform/queue/stream.js";
import { eventually } from "../../support/test-server.js";

const MAX_ATTEMPTS = 2;
const FAILED_TRANSACTIONS = 12;

/**
 * The database behind a consumer is down (every transaction fails as a lost connection does,
 * SQLSTATE 08006) for far more tries than the event has delivery attempts: when it comes back the
 * event is applied once, and nothing was dead-lettered. A handler's own failure still spends
 * attempts and ends in the dead letters.
 */
describe("an event consumer through a database outage", () => {
  let dir: string;
  let stream: Stream;
  let db: Database;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "floodgate-consumer-outage-"));
    stream = await openEmbeddedStream(join(dir, "log"));
    db = await openPgliteDatabase({ name: "consumer-outage" });
    await db.exec(
      "CREATE SCHEMA shop; CREATE TABLE shop.processed_events (event_id text PRIMARY KEY, event_type text NOT NULL, processed_at timestamptz NOT NULL DEFAULT now()); CREATE TABLE shop.effects (event_id text PRIMARY KEY);",
    );
  }, 60_000);
  afterAll(async () => {
    await stream?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The real database, whose next `failures` transactions fail as a dropped connection does. */
  const failing = (failures: { left: number }, tries: { n: number }): Database =>
    new Proxy(db, {
      get(target, property, receiver) {
        if (property !== "transaction") return Reflect.get(target, property, receiver);
        return async (work: Parameters<Database["transaction"]>[0]) => {
          tries.n++;
          if (failures.left > 0) {
            failures.left--;
            throw Object.assign(new Error("terminating connection due to administrator command"), {
              code: "57P01",
            });
          }
          return target.transaction(work);
        };
      },
    });

  const consumer = (
    topic: string,
    database: Database,
    handle: ConstructorParameters<typeof EventConsumer>[0]["handle"],
  ) =>
    new EventConsumer({
      stream,
      topic,
      group: "shop.on-things",
      database: () => database,
      schema: "shop",
      handle,
      logger: createLogger("silent"),
      metrics: new Metrics({}, { processMetrics: false }),
      maxAttempts: MAX_ATTEMPTS,
      visibilityTimeoutMs: 3_000,
      retryBaseMs: 5,
      retryCapMs: 50,
    });

  it("holds the event without spending its attempts, and applies it once when the database is back", async () => {
    const failures = { left: FAILED_TRANSACTIONS };
    const tries = { n: 0 };
    const event = newEvent("thing.happened", { n: 1 });
    await stream.append("things", encodeEvent(event));
    const running = consumer("things", failing(failures, tries), async (e, tx) => {
      await tx.query("INSERT INTO shop.effects (event_id) VALUES ($1)", [e.id]);
    });
    running.start();
    try {
      await eventually(async () => (await running.lag()) === 0, 30_000, "the event handled");
    } finally {
      await running.stop();
    }
    expect(tries.n).toBeGreaterThan(FAILED_TRANSACTIONS);
    expect(await db.query("SELECT event_id FROM shop.effects")).toEqual([{ event_id: event.id }]);
    expect((await stream.stats("things")).deadLetters).toBe(0);
  }, 60_000);

  it("still dead-letters an event whose handler fails for its own reasons, and applies it once when replayed after the fix", async () => {
    const event = newEvent("thing.broken", { n: 2 });
    await stream.append("broken-things", encodeEvent(event));
    let fixed = false;
    const running = consumer("broken-things", db, async (e, tx) => {
      if (!fixed) throw new Error("this event cannot be applied");
      await tx.query("INSERT INTO shop.effects (event_id) VALUES ($1)", [e.id]);
    });
    running.start();
    try {
      await eventually(
        async () => (await stream.stats("broken-things")).deadLetters === 1,
        30_000,
        "a dead letter",
      );
      // The operator ships the fix, then replays the dead letters (`floodgate dlq replay`).
      fixed = true;
      expect((await stream.replayDeadLetters("broken-things", "all")).replayed).toBe(1);
      await eventually(
        async () =>
          (await db.query("SELECT 1 FROM shop.effects WHERE event_id = $1", [event.id])).length === 1,
        30_000,
        "the replayed event applied",
      );
      // A second replay of the same event (an operator's retry) changes nothing.
      await stream.append("broken-things", encodeEvent(event));
      await eventually(async () => (await running.lag()) === 0, 30_000, "the copy handled");
    } finally {
      await running.stop();
    }
    expect(await db.query("SELECT event_id FROM shop.effects WHERE event_id = $1", [event.id])).toHaveLength(
      1,
    );
    expect((await stream.stats("broken-things")).deadLetters).toBe(0);
  }, 60_000);
});
