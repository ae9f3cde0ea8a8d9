import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type ConsumerGroup,
  type DeadLetter,
  type Delivery,
  type GroupOptions,
  InvalidDeadLetterIdError,
  type Stream,
} from "../../../src/platform/queue/stream.js";

export interface StreamUnderTest {
  readonly stream: Stream;
  /**
   * Opens a new Stream on the same storage. The suite closes `stream` before calling it and
   * closes the returned stream itself; `cleanup` must therefore tolerate an already closed stream.
   */
  readonly reopen?: () => Promise<Stream>;
  /** Closes what is still open and removes the storage (temp dir, broker streams…). */
  readonly cleanup: () => Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (value: string): Uint8Array => encoder.encode(value);
const textOf = (delivery: Delivery): string => decoder.decode(delivery.data);

/** Topics persist in brokers across runs, so every test gets a name no earlier run used. */
const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
let topicCounter = 0;
function uniqueTopic(label: string): string {
  topicCounter += 1;
  return `conformance-${label}-${runId}-${topicCounter}`;
}

/** Long enough that nothing is redelivered during a test that does not expect it. */
const PATIENT: GroupOptions = { visibilityTimeoutMs: 30_000, maxAttempts: 5 };

async function fetchAtLeast(group: ConsumerGroup, count: number, timeoutMs = 5_000): Promise<Delivery[]> {
  const deadline = Date.now() + timeoutMs;
  const deliveries: Delivery[] = [];
  while (deliveries.length < count) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      throw new Error(`expected ${count} deliveries within ${timeoutMs} ms, got ${deliveries.length}`);
    }
    deliveries.push(...(await group.fetch(count - deliveries.length, remaining)));
  }
  return deliveries;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually(check: () => Promise<void>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

async function appendAll(stream: Stream, topic: string, values: readonly string[]): Promise<void> {
  // One after the other: the port promises append order only for appends that do not overlap.
  for (const value of values) {
    await stream.append(topic, text(value));
  }
}

const numbered = (count: number, prefix = "m"): string[] =>
  Array.from({ length: count }, (_, index) => `${prefix}${index}`);

/** A group that gives up on a message at its first nak: every message it naks is a dead letter. */
const ONE_ATTEMPT: GroupOptions = { visibilityTimeoutMs: 30_000, maxAttempts: 1 };

/**
 * Appends `values`, then fetches and naks each in append order through a one-attempt group, so
 * they are dead-lettered in that order. Returns the group (replays come back to it) and the
 * dead letters as listed.
 */
async function deadLetterAll(
  stream: Stream,
  topic: string,
  values: readonly string[],
): Promise<{ group: ConsumerGroup; deadLetters: DeadLetter[] }> {
  await appendAll(stream, topic, values);
  const group = stream.group(topic, "workers", ONE_ATTEMPT);
  const deliveries = await fetchAtLeast(group, values.length);
  for (const delivery of deliveries) {
    await delivery.nak();
  }
  await eventually(async () => expect((await stream.stats(topic)).deadLetters).toBe(values.length));
  return { group, deadLetters: await stream.deadLetters(topic, { limit: 100 }) };
}

const deadTextOf = (deadLetter: DeadLetter): string => decoder.decode(deadLetter.data);

/**
 * The behaviour every Stream adapter must share (see the contract in src/platform/queue/stream.ts).
 * Timeouts are short (100–300 ms visibility) so the whole suite runs in seconds.
 */
export function describeStreamConformance(name: string, open: () => Promise<StreamUnderTest>): void {
  describe(`Stream conformance: ${name}`, () => {
    let subject: StreamUnderTest;
    let stream: Stream;

    beforeEach(async () => {
      subject = await open();
      stream = subject.stream;
    });

    afterEach(async () => {
      await subject.cleanup();
    });

    it("delivers appended messages in append order", async () => {
      const topic = uniqueTopic("order");
      const values = numbered(20);
      await appendAll(stream, topic, values);
      const group = stream.group(topic, "readers", PATIENT);

      const deliveries = await fetchAtLeast(group, values.length);

      expect(deliveries.map(textOf)).toEqual(values);
      expect(deliveries.every((delivery) => delivery.attempt === 1)).toBe(true);
      expect(new Set(deliveries.map((delivery) => delivery.id)).size).toBe(values.length);
      await Promise.all(deliveries.map((delivery) => delivery.ack()));
    });

    it("gives every consumer group every message", async () => {
      const topic = uniqueTopic("groups");
      const values = numbered(10);
      await appendAll(stream, topic, values);
      const billing = stream.group(topic, "billing", PATIENT);
      const shipping = stream.group(topic, "shipping", PATIENT);

      const billed = await fetchAtLeast(billing, values.length);
      const shipped = await fetchAtLeast(shipping, values.length);

      expect(billed.map(textOf)).toEqual(values);
      expect(shipped.map(textOf)).toEqual(values);
    });

    it("does not redeliver an acked message", async () => {
      const topic = uniqueTopic("ack");
      await appendAll(stream, topic, ["only"]);
      const group = stream.group(topic, "workers", { visibilityTimeoutMs: 100, maxAttempts: 5 });

      const [delivery] = await fetchAtLeast(group, 1);
      await delivery!.ack();
      await delivery!.ack(); // idempotent

      expect(await group.fetch(10, 400)).toEqual([]);
    });

    it("redelivers after the visibility timeout with the attempt incremented", async () => {
      const topic = uniqueTopic("visibility");
      await appendAll(stream, topic, ["slow"]);
      const group = stream.group(topic, "workers", { visibilityTimeoutMs: 150, maxAttempts: 5 });

      const [first] = await fetchAtLeast(group, 1);
      expect(await group.fetch(10, 0)).toEqual([]); // invisible while in flight
      const [second] = await fetchAtLeast(group, 1, 3_000);

      expect(first!.attempt).toBe(1);
      expect(second!.attempt).toBe(2);
      expect(second!.id).toBe(first!.id);
      expect(textOf(second!)).toBe("slow");
      await second!.ack();
      expect(await group.fetch(10, 300)).toEqual([]);
    });

    it("redelivers a nak'ed message after its delay", async () => {
      const topic = uniqueTopic("nak");
      await appendAll(stream, topic, ["retry-me"]);
      const group = stream.group(topic, "workers", { visibilityTimeoutMs: 10_000, maxAttempts: 5 });

      const [first] = await fetchAtLeast(group, 1);
      const nakedAt = Date.now();
      await first!.nak(300);
      expect(await group.fetch(10, 50)).toEqual([]);
      const [again] = await fetchAtLeast(group, 1, 3_000);

      expect(Date.now() - nakedAt).toBeGreaterThanOrEqual(250);
      expect(again!.id).toBe(first!.id);
      expect(again!.attempt).toBe(2);
      await again!.nak(); // no delay: available at once
      const [third] = await fetchAtLeast(group, 1, 1_000);
      expect(third!.attempt).toBe(3);
      await third!.ack();
    });

    it("keeps a touched message invisible for many visibility timeouts without counting attempts", async () => {
      const topic = uniqueTopic("touch");
      await appendAll(stream, topic, ["held"]);
      const visibilityTimeoutMs = 900;
      // Two attempts: one redelivery, or one touch counted as an attempt, would show.
      const group = stream.group(topic, "workers", { visibilityTimeoutMs, maxAttempts: 2 });
      const [held] = await fetchAtLeast(group, 1);
      expect(held!.attempt).toBe(1);

      // Touch every third of the timeout for well over three timeouts, while a competing fetch
      // watches for the message to come back.
      const holdUntil = Date.now() + 3.5 * visibilityTimeoutMs;
      const redelivered: Delivery[] = [];
      const watcher = (async () => {
        while (Date.now() < holdUntil) redelivered.push(...(await group.fetch(10, 100)));
      })();
      while (Date.now() < holdUntil) {
        await held!.touch();
        await sleep(visibilityTimeoutMs / 3);
      }
      await watcher;

      expect(redelivered.map((delivery) => [textOf(delivery), delivery.attempt])).toEqual([]);
      const workers = (await stream.stats(topic)).groups.find((entry) => entry.group === "workers");
      expect(workers).toEqual({ group: "workers", lag: 1, inFlight: 1, redelivered: 0 });
      expect((await stream.stats(topic)).deadLetters).toBe(0);
      await held!.ack();
      expect(await group.fetch(10, 1.5 * visibilityTimeoutMs)).toEqual([]);
      await eventually(async () => expect(await group.lag()).toBe(0));
    });

    it("redelivers a message as its next attempt once the touching stops", async () => {
      const topic = uniqueTopic("touch-stop");
      await appendAll(stream, topic, ["abandoned"]);
      const group = stream.group(topic, "workers", { visibilityTimeoutMs: 300, maxAttempts: 5 });
      const [first] = await fetchAtLeast(group, 1);
      for (let touches = 0; touches < 6; touches++) {
        await first!.touch();
        await sleep(100);
      }

      const [again] = await fetchAtLeast(group, 1, 3_000);

      expect(again!.id).toBe(first!.id);
      expect(again!.attempt).toBe(2);
      await again!.ack();
    });

    it("ignores a touch of a delivery that is stale: expired, nak'ed or acked", async () => {
      const topic = uniqueTopic("touch-stale");
      await appendAll(stream, topic, ["contested"]);
      const group = stream.group(topic, "workers", { visibilityTimeoutMs: 300, maxAttempts: 10 });
      const [expired] = await fetchAtLeast(group, 1);
      // Generous: a JetStream consumer created moments ago has been seen taking over 3 s to redeliver.
      const [second] = await fetchAtLeast(group, 1, 10_000);
      expect(second!.attempt).toBe(2);

      // The expired delivery keeps touching: that must not keep the newer one invisible.
      let touching = true;
      const staleToucher = (async () => {
        while (touching) {
          await expired!.touch();
          await sleep(50);
        }
      })();
      const [third] = await fetchAtLeast(group, 1, 10_000);
      touching = false;
      await staleToucher;
      expect(third!.attempt).toBe(3);

      // A touch after a nak neither cancels nor delays the redelivery.
      await third!.nak(200);
      await third!.touch();
      const [fourth] = await fetchAtLeast(group, 1, 10_000);
      expect(fourth!.attempt).toBe(4);

      // Nor does one after the ack bring the message back.
      await fourth!.ack();
      await fourth!.touch();
      expect(await group.fetch(10, 600)).toEqual([]);
      await eventually(async () => expect(await group.lag()).toBe(0));
    });

    it("moves a message to the dead-letter topic after maxAttempts", async () => {
      const topic = uniqueTopic("poison");
      await appendAll(stream, topic, ["poison", "healthy"]);
      const group = stream.group(topic, "workers", { visibilityTimeoutMs: 150, maxAttempts: 2 });

      const firstRound = await fetchAtLeast(group, 2);
      const healthy = firstRound.find((delivery) => textOf(delivery) === "healthy")!;
      await healthy.ack();
      const poison = firstRound.find((delivery) => textOf(delivery) === "poison")!;
      await poison.nak();
      const [lastTry] = await fetchAtLeast(group, 1);
      expect(lastTry!.attempt).toBe(2);
      await lastTry!.nak();

      const deadLetters = stream.group(`${topic}.dead`, "inspectors", PATIENT);
      const [dead] = await fetchAtLeast(deadLetters, 1);
      expect(textOf(dead!)).toBe("poison");
      expect(await group.fetch(10, 300)).toEqual([]);
      await eventually(async () => expect(await group.lag()).toBe(0));
    });

    it("dead-letters a message whose visibility keeps expiring, to a custom topic", async () => {
      const topic = uniqueTopic("expiring");
      const deadLetterTopic = uniqueTopic("graveyard");
      await appendAll(stream, topic, ["never-acked"]);
      const group = stream.group(topic, "workers", {
        visibilityTimeoutMs: 100,
        maxAttempts: 2,
        deadLetterTopic,
      });

      expect((await fetchAtLeast(group, 1))[0]!.attempt).toBe(1);
      expect((await fetchAtLeast(group, 1, 3_000))[0]!.attempt).toBe(2);

      const [dead] = await fetchAtLeast(stream.group(deadLetterTopic, "inspectors", PATIENT), 1, 3_000);
      expect(textOf(dead!)).toBe("never-acked");
      expect(await group.fetch(10, 300)).toEqual([]);
    });

    it("counts lag as appended minus acked, in-flight messages included", async () => {
      const topic = uniqueTopic("lag");
      await appendAll(stream, topic, numbered(5));
      const group = stream.group(topic, "workers", PATIENT);
      await eventually(async () => expect(await group.lag()).toBe(5));

      const fetched = await fetchAtLeast(group, 3);
      expect(await group.lag()).toBe(5);

      // Out of order on purpose: acks beyond a gap count too.
      await fetched[2]!.ack();
      await fetched[0]!.ack();
      await eventually(async () => expect(await group.lag()).toBe(3));
      await fetched[1]!.ack();
      await eventually(async () => expect(await group.lag()).toBe(2));

      await appendAll(stream, topic, ["late"]);
      await eventually(async () => expect(await group.lag()).toBe(3));
      const stats = await stream.stats(topic);
      expect(stats.appended).toBeGreaterThanOrEqual(6);
      expect(stats.groups.find((entry) => entry.group === "workers")?.lag).toBe(3);
    });

    it("reports in-flight, redelivered and dead-letter counts per topic and group", async () => {
      const topic = uniqueTopic("stats");
      await appendAll(stream, topic, ["fine", "flaky", "poison"]);
      expect(await stream.stats(topic)).toMatchObject({ topic, appended: 3, deadLetters: 0 });
      const group = stream.group(topic, "workers", { visibilityTimeoutMs: 30_000, maxAttempts: 2 });
      const first = await fetchAtLeast(group, 3);
      const byText = (deliveries: Delivery[], value: string) => deliveries.find((d) => textOf(d) === value)!;
      const workers = async () => (await stream.stats(topic)).groups.find((g) => g.group === "workers");
      await eventually(async () =>
        expect(await workers()).toEqual({ group: "workers", lag: 3, inFlight: 3, redelivered: 0 }),
      );

      await byText(first, "fine").ack();
      await byText(first, "flaky").nak();
      await byText(first, "poison").nak();
      const second = await fetchAtLeast(group, 2);
      expect(second.map((delivery) => delivery.attempt)).toEqual([2, 2]);
      // Both are being retried: delivered twice, not yet acked.
      await eventually(async () =>
        expect(await workers()).toEqual({ group: "workers", lag: 2, inFlight: 2, redelivered: 2 }),
      );

      await byText(second, "flaky").ack();
      await byText(second, "poison").nak(); // its last attempt: dead-lettered
      await eventually(async () =>
        expect(await workers()).toEqual({ group: "workers", lag: 0, inFlight: 0, redelivered: 0 }),
      );
      const stats = await stream.stats(topic);
      expect(stats.appended).toBe(3);
      expect(stats.deadLetters).toBe(1);
    });

    it("lists dead letters oldest first, a page at a time, with where they came from", async () => {
      const topic = uniqueTopic("dead-list");
      const startedAt = Date.now();
      const { deadLetters } = await deadLetterAll(stream, topic, ["d0", "d1", "d2"]);

      expect(deadLetters.map(deadTextOf)).toEqual(["d0", "d1", "d2"]);
      expect(new Set(deadLetters.map((deadLetter) => deadLetter.id)).size).toBe(3);
      for (const deadLetter of deadLetters) {
        expect(deadLetter.originalTopic).toBe(topic);
        // Recorded by the brokers, not by the embedded log: where present, it must be right.
        if (deadLetter.attempts !== undefined) expect(deadLetter.attempts).toBe(1);
        if (deadLetter.group !== undefined) expect(deadLetter.group).toBe("workers");
        if (deadLetter.deadLetteredAt !== undefined) {
          expect(deadLetter.deadLetteredAt).toBeGreaterThanOrEqual(startedAt - 1_000);
          expect(deadLetter.deadLetteredAt).toBeLessThanOrEqual(Date.now() + 1_000);
        }
      }
      const firstPage = await stream.deadLetters(topic, { limit: 2 });
      expect(firstPage.map(deadTextOf)).toEqual(["d0", "d1"]);
      const secondPage = await stream.deadLetters(topic, { limit: 2, after: firstPage[1]!.id });
      expect(secondPage.map(deadTextOf)).toEqual(["d2"]);
      expect(await stream.deadLetters(topic, { limit: 2, after: secondPage[0]!.id })).toEqual([]);

      const untouched = uniqueTopic("no-dead");
      expect(await stream.deadLetters(untouched, { limit: 10 })).toEqual([]);
      expect((await stream.stats(untouched)).deadLetters).toBe(0);
    });

    it("replays dead letters by id to their original topic, then no longer lists them", async () => {
      const topic = uniqueTopic("dead-replay");
      const { group, deadLetters } = await deadLetterAll(stream, topic, ["d0", "d1", "d2"]);

      const result = await stream.replayDeadLetters(topic, [deadLetters[1]!.id]);

      expect(result).toEqual({ replayed: 1, missing: [] });
      expect((await stream.deadLetters(topic, { limit: 10 })).map(deadTextOf)).toEqual(["d0", "d2"]);
      expect((await stream.stats(topic)).deadLetters).toBe(2);
      const [replayed] = await fetchAtLeast(group, 1);
      expect(textOf(replayed!)).toBe("d1");
      expect(replayed!.attempt).toBe(1); // a new message: the group gives it every attempt again
      await replayed!.ack();
      expect(await group.fetch(10, 200)).toEqual([]);
      // Gone from the dead-letter topic: asking again replays nothing.
      expect(await stream.replayDeadLetters(topic, [deadLetters[1]!.id])).toEqual({
        replayed: 0,
        missing: [deadLetters[1]!.id],
      });
    });

    it("replays every dead letter with progress, in dead-letter order", async () => {
      const topic = uniqueTopic("dead-all");
      const values = numbered(5, "dead-");
      const { group } = await deadLetterAll(stream, topic, values);
      const progress: [number, number][] = [];

      const result = await stream.replayDeadLetters(topic, "all", {
        onProgress: (replayed, total) => progress.push([replayed, total]),
      });

      expect(result).toEqual({ replayed: 5, missing: [] });
      expect(progress[0]).toEqual([0, 5]);
      expect(progress.at(-1)).toEqual([5, 5]);
      expect(await stream.deadLetters(topic, { limit: 10 })).toEqual([]);
      expect((await stream.stats(topic)).deadLetters).toBe(0);
      const again = await fetchAtLeast(group, 5);
      expect(again.map(textOf)).toEqual(values);
      await Promise.all(again.map((delivery) => delivery.ack()));
      expect(await stream.replayDeadLetters(topic, "all")).toEqual({ replayed: 0, missing: [] });
    });

    it("stores a dead letter once when two replays of it race", async () => {
      const topic = uniqueTopic("dead-race");
      const { group, deadLetters } = await deadLetterAll(stream, topic, ["only-once"]);
      const id = deadLetters[0]!.id;

      const results = await Promise.all([
        stream.replayDeadLetters(topic, [id]),
        stream.replayDeadLetters(topic, [id]),
      ]);

      expect(results.map((result) => result.replayed).sort()).toEqual([0, 1]);
      const [delivery] = await fetchAtLeast(group, 1);
      expect(textOf(delivery!)).toBe("only-once");
      await delivery!.ack();
      expect(await group.fetch(10, 300)).toEqual([]);
      expect((await stream.stats(topic)).deadLetters).toBe(0);
    });

    it("refuses a malformed dead-letter id and replays nothing", async () => {
      const topic = uniqueTopic("dead-bad-id");
      await deadLetterAll(stream, topic, ["kept"]);

      await expect(stream.replayDeadLetters(topic, ["not an id"])).rejects.toBeInstanceOf(
        InvalidDeadLetterIdError,
      );
      await expect(stream.deadLetters(topic, { limit: 1, after: "../x" })).rejects.toBeInstanceOf(
        InvalidDeadLetterIdError,
      );
      expect((await stream.stats(topic)).deadLetters).toBe(1);
    });

    it("remembers replayed dead letters across a reopen", async (context) => {
      if (subject.reopen === undefined) {
        context.skip();
        return;
      }
      const topic = uniqueTopic("dead-reopen");
      const { deadLetters } = await deadLetterAll(stream, topic, ["d0", "d1"]);
      await stream.replayDeadLetters(topic, [deadLetters[0]!.id]);
      await stream.close();

      const reopened = await subject.reopen();
      try {
        expect((await reopened.deadLetters(topic, { limit: 10 })).map(deadTextOf)).toEqual(["d1"]);
        expect((await reopened.stats(topic)).deadLetters).toBe(1);
      } finally {
        await reopened.close();
      }
    });

    it("returns an empty batch after waitMs when nothing arrives", async () => {
      const topic = uniqueTopic("idle");
      const group = stream.group(topic, "workers", PATIENT);
      await group.fetch(1, 0); // let adapters create the group before timing the wait

      const started = Date.now();
      expect(await group.fetch(5, 200)).toEqual([]);
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    });

    it("wakes a waiting fetch when a message is appended", async () => {
      const topic = uniqueTopic("wake");
      const group = stream.group(topic, "workers", PATIENT);
      await group.fetch(1, 0);

      const waiting = group.fetch(10, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const appendedAt = Date.now();
      await stream.append(topic, text("wake up"));
      const deliveries = await waiting;

      expect(deliveries.map(textOf)).toEqual(["wake up"]);
      // Far below waitMs: the append woke the fetch; it did not time out.
      expect(Date.now() - appendedAt).toBeLessThan(10_000);
    });

    it("delivers many concurrent appends exactly once across competing consumers", async () => {
      const topic = uniqueTopic("burst");
      const values = numbered(1_000, "order-");
      const group = stream.group(topic, "workers", PATIENT);
      const seen: string[] = [];
      const deadline = Date.now() + 20_000;

      const consumer = async () => {
        while (seen.length < values.length && Date.now() < deadline) {
          for (const delivery of await group.fetch(64, 100)) {
            seen.push(textOf(delivery));
            await delivery.ack();
          }
        }
      };
      const consumers = [consumer(), consumer(), consumer()];
      await Promise.all(values.map((value) => stream.append(topic, text(value))));
      await Promise.all(consumers);

      expect(seen.length).toBe(values.length);
      expect(new Set(seen)).toEqual(new Set(values));
      expect(await group.fetch(10, 200)).toEqual([]);
      await eventually(async () => expect(await group.lag()).toBe(0));
    });

    it("keeps committed offsets across a reopen and redelivers what was not acked", async (context) => {
      if (subject.reopen === undefined) {
        context.skip();
        return;
      }
      const topic = uniqueTopic("reopen");
      const values = numbered(6);
      await appendAll(stream, topic, values);
      const before = stream.group(topic, "workers", PATIENT);
      const fetched = await fetchAtLeast(before, 5);
      await Promise.all(fetched.slice(0, 3).map((delivery) => delivery.ack()));
      await stream.close();

      const reopened = await subject.reopen();
      try {
        const after = reopened.group(topic, "workers", PATIENT);
        const rest = await fetchAtLeast(after, 3);
        expect(rest.map(textOf)).toEqual(values.slice(3));
        expect(await after.fetch(10, 200)).toEqual([]);
        expect(await after.lag()).toBe(3);
        await Promise.all(rest.map((delivery) => delivery.ack()));
        await eventually(async () => expect(await after.lag()).toBe(0));
      } finally {
        await reopened.close();
      }
    });
  });
}
