import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  openRedisStreams,
  type RedisStreamsOptions,
} from "../../../src/platform/queue/redis-streams/redis-streams.js";
import type { ConsumerGroup, GroupOptions, Stream } from "../../../src/platform/queue/stream.js";
import { infraRequired, serverAvailable, servers } from "../../support/infra.js";
import { appendUntilBrokerKilled, drainAndAck } from "./fixtures/broker-crash.js";
import { type BrokerProcess, redisServerBinary, startRedisServer } from "./fixtures/broker-processes.js";
import { describeStreamConformance } from "./stream-conformance.js";

const redisUp = await serverAvailable("redis");

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (value: string): Uint8Array => encoder.encode(value);

const PATIENT: GroupOptions = { visibilityTimeoutMs: 30_000, maxAttempts: 5 };
const HOLDER_SCRIPT = fileURLToPath(new URL("./fixtures/redis-fetch-and-hold.ts", import.meta.url));

/** Keys persist on the shared server, so every key this file creates carries a unique prefix. */
const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
let instanceCounter = 0;
function isolatedOptions(): RedisStreamsOptions & { keyPrefix: string } {
  instanceCounter += 1;
  return { keyPrefix: `fgtest:${runId}:${instanceCounter}:` };
}

/** Deletes every key starting with `prefix`. */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true });
  try {
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1_000);
      cursor = next;
      if (keys.length > 0) {
        await redis.del(...keys);
      }
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** Fetches until the group has nothing more, acking everything; returns the payloads in order. */
async function drain(group: ConsumerGroup): Promise<string[]> {
  const values: string[] = [];
  for (;;) {
    const deliveries = await group.fetch(1_000, 200);
    if (deliveries.length === 0) {
      return values;
    }
    for (const delivery of deliveries) {
      values.push(decoder.decode(delivery.data));
      await delivery.ack();
    }
  }
}

/** Runs the holder child until it has printed what it fetched; the caller kills it. */
async function startHolder(
  args: readonly string[],
): Promise<{ child: ChildProcess; held: { id: string; attempt: number }[] }> {
  const child = spawn(process.execPath, ["--import", "tsx", HOLDER_SCRIPT, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const line = await new Promise<string>((resolve, reject) => {
    const fail = (reason: string) => {
      child.kill("SIGKILL");
      reject(new Error(`${reason}:\n${stderr}`));
    };
    const timer = setTimeout(() => fail("the holder printed nothing in 30 s"), 30_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const newline = stdout.indexOf("\n");
      if (newline >= 0) {
        clearTimeout(timer);
        resolve(stdout.slice(0, newline));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(`the holder exited with ${code}`);
    });
  });
  return { child, held: JSON.parse(line) as { id: string; attempt: number }[] };
}

function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve();
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  return exited;
}

describe.skipIf(!redisUp)("Redis Streams adapter (shared server)", () => {
  describeStreamConformance("Redis Streams", async () => {
    const options = isolatedOptions();
    const opened: Stream[] = [await openRedisStreams(servers.redis.url, options)];
    return {
      stream: opened[0]!,
      reopen: async () => {
        const stream = await openRedisStreams(servers.redis.url, options);
        opened.push(stream);
        return stream;
      },
      cleanup: async () => {
        await Promise.all(opened.map((stream) => stream.close()));
        await deleteKeys(servers.redis.url, options.keyPrefix);
      },
    };
  });

  describe("specifics", () => {
    let options: ReturnType<typeof isolatedOptions>;
    let stream: Stream;
    const children: ChildProcess[] = [];

    beforeEach(async () => {
      options = isolatedOptions();
      stream = await openRedisStreams(servers.redis.url, options);
    });

    afterEach(async () => {
      await Promise.all(children.splice(0).map(killAndWait));
      await stream.close();
      await deleteKeys(servers.redis.url, options.keyPrefix);
    });

    it("stores a message once per dedupId within the window (SET NX PX in the XADD script)", async () => {
      await Promise.all([
        stream.append("orders", text("first"), { dedupId: "order-1" }),
        stream.append("orders", text("retry"), { dedupId: "order-1" }),
        stream.append("orders", text("other"), { dedupId: "order-2" }),
      ]);
      await stream.append("orders", text("late retry"), { dedupId: "order-1" });
      await stream.append("orders", text("no id"));

      expect((await stream.stats("orders")).appended).toBe(3);
      expect(await drain(stream.group("orders", "readers", PATIENT))).toEqual(["first", "other", "no id"]);
    });

    it("lets another consumer claim what a dead consumer fetched, once the visibility timeout passed", async () => {
      const visibilityTimeoutMs = 3_000;
      const values = ["a", "b", "c", "d", "e"];
      for (const value of values) {
        await stream.append("orders", text(value));
      }
      const holder = await startHolder([
        servers.redis.url,
        options.keyPrefix,
        "orders",
        "workers",
        String(values.length),
        String(visibilityTimeoutMs),
      ]);
      children.push(holder.child);
      const heldAt = Date.now();
      expect(holder.held.map((delivery) => delivery.attempt)).toEqual([1, 1, 1, 1, 1]);
      await killAndWait(holder.child);

      const survivor = stream.group("orders", "workers", { visibilityTimeoutMs, maxAttempts: 5 });
      if (Date.now() - heldAt < visibilityTimeoutMs / 2) {
        // Still within its visibility timeout: nobody may take them yet.
        expect(await survivor.fetch(10, 0)).toEqual([]);
      }
      const claimed = [];
      const deadline = Date.now() + visibilityTimeoutMs + 10_000;
      while (claimed.length < values.length && Date.now() < deadline) {
        claimed.push(...(await survivor.fetch(values.length - claimed.length, 1_000)));
      }

      expect(Date.now() - heldAt).toBeGreaterThanOrEqual(visibilityTimeoutMs - 100);
      expect(claimed.map((delivery) => delivery.id)).toEqual(holder.held.map((delivery) => delivery.id));
      expect(claimed.map((delivery) => decoder.decode(delivery.data))).toEqual(values);
      expect(claimed.every((delivery) => delivery.attempt === 2)).toBe(true);
      await Promise.all(claimed.map((delivery) => delivery.ack()));
      expect(await survivor.lag()).toBe(0);
    });

    it("holds a nak'ed message back for its whole delay, even past the visibility timeout", async () => {
      await stream.append("orders", text("later"));
      const group = stream.group("orders", "workers", { visibilityTimeoutMs: 200, maxAttempts: 5 });
      const [first] = await group.fetch(1, 5_000);
      const nakedAt = Date.now();
      await first!.nak(900);

      // Well past the visibility timeout, still held back by the delay.
      expect(await group.fetch(10, 500)).toEqual([]);
      const [again] = await group.fetch(1, 5_000);

      expect(Date.now() - nakedAt).toBeGreaterThanOrEqual(850);
      expect(again!.id).toBe(first!.id);
      expect(again!.attempt).toBe(2);
      await again!.ack();
      expect(await group.lag()).toBe(0);
    });

    it("blocks a waiting fetch on a connection of its own, not the one other commands use", async () => {
      await stream.append("orders", text("x"));
      const group = stream.group("orders", "workers", PATIENT);
      const [delivery] = await group.fetch(1, 5_000);
      const waiting = group.fetch(10, 3_000);

      const started = Date.now();
      await delivery!.ack();
      expect(await group.lag()).toBe(0);
      await stream.stats("orders");
      expect(Date.now() - started).toBeLessThan(1_000);

      await stream.append("orders", text("y"));
      expect((await waiting).map((received) => decoder.decode(received.data))).toEqual(["y"]);
    });
  });
});

describe.skipIf(redisServerBinary === undefined && !infraRequired)(
  "Redis Streams adapter (own server: appendonly yes, appendfsync always)",
  () => {
    let directory: string;
    let broker: BrokerProcess;
    let stream: Stream | undefined;

    beforeEach(async () => {
      if (redisServerBinary === undefined) {
        throw new Error("redis-server is not installed and FLOODGATE_REQUIRE_INFRA=1");
      }
      directory = await mkdtemp(join(tmpdir(), "floodgate-redis-"));
      broker = await startRedisServer(redisServerBinary, directory);
    });

    afterEach(async () => {
      await stream?.close();
      stream = undefined;
      await broker.kill("SIGKILL");
      await rm(directory, { recursive: true, force: true });
    });

    it("keeps acknowledged appends and acks across kill -9 and a restart, and reconnects by itself", async () => {
      const warnings: string[] = [];
      stream = await openRedisStreams(broker.url, {
        requestTimeoutMs: 2_000,
        reconnectMaxDelayMs: 100,
        onWarning: (message) => warnings.push(message),
      });
      expect(warnings).toEqual([]); // the server's persistence settings are the safe ones
      const group = stream.group("orders", "workers", PATIENT);

      // Acked before the crash: must not come back after it.
      for (let index = 0; index < 50; index += 1) {
        await stream.append("orders", text(`acked-${index}`));
      }
      const acked = await drainAndAck(
        group,
        new Set(Array.from({ length: 50 }, (_, index) => `acked-${index}`)),
        10_000,
      );
      expect(acked).toHaveLength(50);

      const round = await appendUntilBrokerKilled(stream, "orders", broker, {
        prefix: "order",
        killAfter: 300,
        appenders: 20,
      });
      expect(round.acknowledged.length).toBeGreaterThanOrEqual(300);
      // Appends in flight at the kill were rejected within the command timeout, not left hanging.
      expect(round.settleMs).toBeLessThan(2_000 + 3_000);

      await broker.restart();
      const delivered = await drainAndAck(group, new Set(round.acknowledged), 40_000);

      const deliveredSet = new Set(delivered);
      expect(round.acknowledged.filter((value) => !deliveredSet.has(value))).toEqual([]);
      expect(delivered.length).toBe(deliveredSet.size); // no duplicates
      const attempted = new Set(round.attempted);
      expect(delivered.filter((value) => !attempted.has(value))).toEqual([]); // no acked-* again
      expect(await group.fetch(10, 300)).toEqual([]);
      expect(await group.lag()).toBe(0);
    });
  },
);
