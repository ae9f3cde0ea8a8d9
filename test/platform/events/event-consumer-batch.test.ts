import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";
import { type DomainEvent, encodeEvent, newEvent } from "../../../src/platform/events/domain-event.js";
import { EventConsumer, type EventHandler } from "../../../src/platform/events/event-consumer.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";
import { openEmbeddedStream } from "../../../src/platform/queue/embedded/embedded-stream.js";
import type { Stream } from "../../../src/platform/queue/stream.js";
import { eventually } from "../../support/test-server.js";

const EVENTS = 30;

/**
 * A consumer applies a fetched batch in one transaction per database (what lets it keep up on
 * PGlite's single session), and a batch whose transaction fails is handled again one event at a
 * time: the failing event alone is retried and dead-lettered, every other one applied once.
 */
describe("an event consumer's batches", () => {
  let dir: string;
  let stream: Stream;
  let db: Database;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "floodgate-consumer-batch-"));
    stream = await openEmbeddedStream(join(dir, "log"));
    db = await openPgliteDatabase({ name: "consumer-batch" });
    await db.exec(
      "CREATE SCHEMA shop; CREATE TABLE shop.processed_events (event_id text PRIMARY KEY, event_type text NOT NULL, processed_at timestamptz NOT NULL DEFAULT now()); CREATE TABLE shop.effects (event_id text NOT NULL, topic text NOT NULL);",
    );
  }, 60_000);
  afterAll(async () => {
    await stream?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The real database, counting the transactions begun on it. */
  const counting = (transactions: { n: number }): Database =>
    new Proxy(db, {
      get(target, property, receiver) {
        if (property !== "transaction") return Reflect.get(target, property, receiver);
        return (work: Parameters<Database["transaction"]>[0]) => {
          transactions.n++;
          return target.transaction(work);
        };
      },
    });

  const consumer = (topic: string, database: Database, handle: EventHandler, types?: readonly string[]) =>
    new EventConsumer({
      stream,
      topic,
      group: "shop.on-things",
      database: () => database,
      schema: "shop",
      handle,
      ...(types ? { types } : {}),
      logger: createLogger("silent"),
      metrics: new Metrics({}, { processMetrics: false }),
      maxAttempts: 2,
      visibilityTimeoutMs: 3_000,
      retryBaseMs: 5,
      retryCapMs: 50,
    });

  const appendAll = async (topic: string): Promise<DomainEvent[]> => {
    const events = Array.from({ length: EVENTS }, (_, n) => newEvent("thing.happened", { n }));
    for (const event of events) await stream.append(topic, encodeEvent(event));
    return events;
  };

  const effectsOf = async (topic: string) =>
    (
      await db.query<{ event_id: string }>(
        "SELECT event_id FROM shop.effects WHERE topic = $1 ORDER BY event_id",
        [topic],
      )
    ).map((row) => row.event_id);

  it("applies a fetched batch in one transaction, runs each event's after-commit work once, then acks", async () => {
    const events = await appendAll("batched");
    const transactions = { n: 0 };
    const afterCommit: string[] = [];
    const running = consumer("batched", counting(transactions), async (event, tx, onCommit) => {
      await tx.query("INSERT INTO shop.effects (event_id, topic) VALUES ($1, 'batched')", [event.id]);
      onCommit(async () => {
        // The effect is committed by the time this runs.
        const seen = await db.query("SELECT 1 FROM shop.effects WHERE event_id = $1", [event.id]);
        if (seen.length === 1) afterCommit.push(event.id);
      });
    });
    running.start();
    try {
      await eventually(async () => (await running.lag()) === 0, 30_000, "every event handled");
    } finally {
      await running.stop();
    }
    expect(await effectsOf("batched")).toEqual(events.map((event) => event.id).sort());
    expect(afterCommit).toEqual(events.map((event) => event.id));
    // One transaction per fetched batch (at most 50 each), not one per event.
    expect(transactions.n).toBeLessThan(EVENTS / 2);
  }, 60_000);

  it("handles a failed batch one event at a time: the poison event is dead-lettered, every other applied once", async () => {
    const events = await appendAll("poisoned");
    const poison = events[EVENTS / 2]!;
    const transactions = { n: 0 };
    const running = consumer("poisoned", counting(transactions), async (event, tx) => {
      // The effect is written before the failure: the batch's rollback must take it back.
      await tx.query("INSERT INTO shop.effects (event_id, topic) VALUES ($1, 'poisoned')", [event.id]);
      if (event.id === poison.id) throw new Error("this event cannot be applied");
    });
    running.start();
    try {
      await eventually(
        async () => (await stream.stats("poisoned")).deadLetters === 1 && (await running.lag()) === 0,
        30_000,
        "the poison event dead-lettered and the rest handled",
      );
    } finally {
      await running.stop();
    }
    expect(await effectsOf("poisoned")).toEqual(
      events
        .filter((event) => event.id !== poison.id)
        .map((event) => event.id)
        .sort(),
    );
    const processed = await db.query<{ event_id: string }>(
      "SELECT event_id FROM shop.processed_events WHERE event_id = ANY($1::text[])",
      [events.map((event) => event.id)],
    );
    expect(processed).toHaveLength(EVENTS - 1);
    const [letter] = await stream.deadLetters("poisoned", { limit: 10 });
    expect(letter && JSON.parse(Buffer.from(letter.data).toString()).id).toBe(poison.id);
  }, 60_000);

  it("acks an event already processed (a duplicate) inside a batch without applying it again", async () => {
    const events = await appendAll("duplicates");
    // Half of them were applied by an earlier delivery.
    for (const event of events.slice(0, EVENTS / 2)) {
      await db.query("INSERT INTO shop.processed_events (event_id, event_type) VALUES ($1, $2)", [
        event.id,
        event.type,
      ]);
    }
    const running = consumer("duplicates", db, async (event, tx) => {
      await tx.query("INSERT INTO shop.effects (event_id, topic) VALUES ($1, 'duplicates')", [event.id]);
    });
    running.start();
    try {
      await eventually(async () => (await running.lag()) === 0, 30_000, "every event handled");
    } finally {
      await running.stop();
    }
    expect(await effectsOf("duplicates")).toEqual(
      events
        .slice(EVENTS / 2)
        .map((event) => event.id)
        .sort(),
    );
  }, 60_000);

  it("applies an event delivered twice in one batch once", async () => {
    const events = await appendAll("twice");
    for (const event of events.slice(0, 5)) await stream.append("twice", encodeEvent(event));
    const running = consumer("twice", db, async (event, tx) => {
      await tx.query("INSERT INTO shop.effects (event_id, topic) VALUES ($1, 'twice')", [event.id]);
    });
    running.start();
    try {
      await eventually(async () => (await running.lag()) === 0, 30_000, "every event handled");
    } finally {
      await running.stop();
    }
    expect(await effectsOf("twice")).toEqual(events.map((event) => event.id).sort());
  }, 60_000);

  it("acks events of types it does not handle with no transaction and no processed key", async () => {
    const others = Array.from({ length: EVENTS }, (_, n) => newEvent("other.thing", { n }));
    for (const event of others) await stream.append("mixed", encodeEvent(event));
    const wanted = await appendAll("mixed");
    const transactions = { n: 0 };
    const seen: string[] = [];
    const running = consumer(
      "mixed",
      counting(transactions),
      async (event, tx) => {
        seen.push(event.type);
        await tx.query("INSERT INTO shop.effects (event_id, topic) VALUES ($1, 'mixed')", [event.id]);
      },
      ["thing.happened"],
    );
    running.start();
    try {
      await eventually(async () => (await running.lag()) === 0, 30_000, "every event handled");
    } finally {
      await running.stop();
    }
    expect(new Set(seen)).toEqual(new Set(["thing.happened"]));
    expect(await effectsOf("mixed")).toEqual(wanted.map((event) => event.id).sort());
    const recorded = await db.query("SELECT 1 FROM shop.processed_events WHERE event_type = 'other.thing'");
    expect(recorded).toHaveLength(0);
    // The ignored half cost no transaction: at most one per fetched batch of the wanted half.
    expect(transactions.n).toBeLessThanOrEqual(Math.ceil(EVENTS / 2));
  }, 60_000);
});
