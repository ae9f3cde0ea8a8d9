import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { ConsumerGroup, Delivery, GroupOptions, Stream } from "../../../src/platform/queue/stream.js";

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
