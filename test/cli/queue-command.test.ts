import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbeddedStream } from "../../src/platform/queue/embedded/embedded-stream.js";
import { openRedisStreams } from "../../src/platform/queue/redis-streams/redis-streams.js";
import type { ConsumerGroup, Delivery, Stream, TopicStats } from "../../src/platform/queue/stream.js";
import { serverAvailable, servers } from "../support/infra.js";

const BIN = fileURLToPath(new URL("../../bin/floodgate.mjs", import.meta.url));
const TOPIC = "orders.requested";
const GROUP = "order-writers";

function floodgate(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const order = (index: number) =>
  Buffer.from(
    JSON.stringify({
      orderId: `74000000000${String(index).padStart(4, "0")}`,
      userId: `buyer-${index}`,
      sku: "CLI-TEE",
      quantity: 1,
    }),
  );

/** Fetches `count` deliveries, waiting up to 5 s. */
async function fetchAll(group: ConsumerGroup, count: number): Promise<Delivery[]> {
  const deliveries: Delivery[] = [];
  const deadline = Date.now() + 5_000;
  while (deliveries.length < count && Date.now() < deadline) {
    deliveries.push(...(await group.fetch(count - deliveries.length, 1_000)));
  }
  if (deliveries.length < count) throw new Error(`fetched ${deliveries.length} of ${count}`);
  return deliveries;
}

describe("floodgate queue / dlq --help", () => {
  it("lists the commands and says what each option does", () => {
    const top = floodgate(["--help"]);
    expect(top.stdout).toMatch(/queue\s+Inspect the queue/);
    expect(top.stdout).toMatch(/dlq\s+Inspect and replay/);
    const replay = floodgate(["dlq", "replay", "--help"]);
    expect(replay.code).toBe(0);
    for (const option of ["--topic <topic>", "--id <id...>", "--all"])
      expect(replay.stdout).toContain(option);
    expect(replay.stdout).toContain('(default: "orders.requested")');
    const list = floodgate(["dlq", "list", "--help"]);
    for (const option of ["--limit <n>", "--after <id>", "--json"]) expect(list.stdout).toContain(option);
    expect(floodgate(["queue", "stats", "--help"]).stdout).toContain("--json");
  });
});

describe("floodgate queue / dlq with the embedded queue held by a running server", () => {
  it("stops with one line that points at the server's admin endpoints", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "floodgate-cli-lock-"));
    // What a running `floodgate start` holds: the data dir's queue, locked.
    const running = await openEmbeddedStream(join(dataDir, "queue"));
    try {
      for (const args of [
        ["queue", "stats"],
        ["dlq", "list"],
        ["dlq", "replay", "--all"],
      ]) {
        const { code, stdout, stderr } = floodgate(args, { FLOODGATE_DATA_DIR: dataDir });
        expect(code, args.join(" ")).toBe(1);
        expect(stdout).toBe("");
        expect(stderr.trim().split("\n")).toHaveLength(1);
        expect(stderr).toContain(`in use by a running Floodgate (pid ${process.pid})`);
        expect(stderr).toContain("GET /admin/queue/stats, GET /admin/dlq, POST /admin/dlq/replay");
      }
    } finally {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

const redisUp = await serverAvailable("redis");

describe.skipIf(!redisUp)("floodgate queue / dlq against Redis Streams", () => {
  const prefix = `fgcli${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const dataDir = mkdtempSync(join(tmpdir(), "floodgate-cli-queue-"));
  const env = {
    FLOODGATE_QUEUE_URL: servers.redis.url,
    FLOODGATE_QUEUE_PREFIX: prefix,
    FLOODGATE_DATA_DIR: dataDir,
  };
  let stream: Stream;
  let group: ConsumerGroup;

  beforeAll(async () => {
    // The server's view of the queue: the same URL and prefix the CLI is given.
    stream = await openRedisStreams(servers.redis.url, { keyPrefix: `${prefix}:stream:` });
    for (let index = 0; index < 3; index++) await stream.append(TOPIC, order(index));
    group = stream.group(TOPIC, GROUP, { visibilityTimeoutMs: 60_000, maxAttempts: 1 });
    const [first, second, third] = await fetchAll(group, 3);
    await first!.nak(); // its only attempt: dead-lettered
    await second!.nak();
    void third; // held: in flight while the CLI looks
  });

  afterAll(async () => {
    await stream?.close();
    const redis = new Redis(servers.redis.url);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("queue stats shows depth, in flight, redelivered and dead letters", () => {
    const json = floodgate(["queue", "stats", "--json"], env);
    expect(json.code, json.stderr).toBe(0);
    const stats = JSON.parse(json.stdout) as TopicStats;
    expect(stats).toEqual({
      topic: TOPIC,
      appended: 3,
      deadLetters: 2,
      groups: [{ group: GROUP, lag: 1, inFlight: 1, redelivered: 0 }],
    });

    const text = floodgate(["queue", "stats"], env);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("orders.requested: 3 appended, 2 dead letters in orders.requested.dead");
    expect(text.stdout).toMatch(/GROUP\s+LAG\s+WAITING\s+IN FLIGHT\s+REDELIVERED/);
    expect(text.stdout).toMatch(/order-writers\s+1\s+0\s+1\s+0/);
  });

  it("dlq list shows each dead letter's id, attempts and a preview of its payload, a page at a time", () => {
    const json = floodgate(["dlq", "list", "--json"], env);
    expect(json.code, json.stderr).toBe(0);
    const body = JSON.parse(json.stdout) as {
      total: number;
      next: string | null;
      deadLetters: { id: string; attempts: number; group: string; preview: string; data: string }[];
    };
    expect(body.total).toBe(2);
    expect(body.next).toBeNull();
    expect(body.deadLetters.map((deadLetter) => deadLetter.attempts)).toEqual([1, 1]);
    expect(body.deadLetters.map((deadLetter) => deadLetter.group)).toEqual([GROUP, GROUP]);
    expect(body.deadLetters[0]!.preview).toContain('"orderId":"740000000000000"');
    expect(Buffer.from(body.deadLetters[1]!.data, "base64")).toEqual(order(1));

    const text = floodgate(["dlq", "list"], env);
    expect(text.stdout).toContain("orders.requested.dead: 2 dead letters, showing 2");
    expect(text.stdout).toMatch(/ID\s+ATTEMPTS\s+DEAD-LETTERED\s+PREVIEW/);
    expect(text.stdout).toContain(body.deadLetters[1]!.id);
    expect(text.stdout).toContain('"userId":"buyer-1"');

    const firstPage = floodgate(["dlq", "list", "--limit", "1"], env);
    expect(firstPage.stdout).toContain(
      `more: floodgate dlq list --topic orders.requested --after ${body.deadLetters[0]!.id}`,
    );
    const secondPage = floodgate(["dlq", "list", "--json", "--after", body.deadLetters[0]!.id], env);
    expect(JSON.parse(secondPage.stdout).deadLetters.map((d: { id: string }) => d.id)).toEqual([
      body.deadLetters[1]!.id,
    ]);
  });

  it("refuses bad input with a one-line reason", () => {
    const badId = floodgate(["dlq", "replay", "--id", "not-an-id"], env);
    expect(badId.code).toBe(1);
    expect(badId.stderr).toContain('Invalid dead-letter id "not-an-id"');
    const neither = floodgate(["dlq", "replay"], env);
    expect(neither.code).not.toBe(0);
    expect(neither.stderr).toContain("give --id <id...> or --all");
    const both = floodgate(["dlq", "replay", "--all", "--id", "1-0"], env);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain("cannot be used with");
    expect(floodgate(["dlq", "list", "--limit", "0"], env).stderr).toContain("an integer from 1 to 10000");
    expect((JSON.parse(floodgate(["queue", "stats", "--json"], env).stdout) as TopicStats).deadLetters).toBe(
      2,
    );
  });

  it("dlq replay puts dead letters back on their topic, by id or all, and they are consumed again", async () => {
    const [first] = (
      JSON.parse(floodgate(["dlq", "list", "--json"], env).stdout) as { deadLetters: { id: string }[] }
    ).deadLetters;

    const byId = floodgate(["dlq", "replay", "--id", first!.id], env);
    expect(byId.code, byId.stderr).toBe(0);
    expect(byId.stdout).toBe("replayed 1 dead letter from orders.requested.dead to orders.requested\n");
    const again = floodgate(["dlq", "replay", "--id", first!.id], env);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain("replayed 0 dead letters");
    expect(again.stderr).toContain(
      `not in orders.requested.dead (replayed already, or never there): ${first!.id}`,
    );

    const all = floodgate(["dlq", "replay", "--all"], env);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toBe("replayed 1 dead letter from orders.requested.dead to orders.requested\n");

    const stats = JSON.parse(floodgate(["queue", "stats", "--json"], env).stdout) as TopicStats;
    expect(stats.deadLetters).toBe(0);
    expect(stats.appended).toBe(5);
    // The worker's group gets both back as new messages, in the order they were replayed.
    const replayed = await fetchAll(group, 2);
    expect(replayed.map((delivery) => Buffer.from(delivery.data))).toEqual([order(0), order(1)]);
  });

  it("shows progress while replaying many", async () => {
    const topic = "cli.bulk";
    const count = 150;
    await Promise.all(Array.from({ length: count }, (_, index) => stream.append(topic, order(index))));
    const bulk = stream.group(topic, "workers", { visibilityTimeoutMs: 60_000, maxAttempts: 1 });
    for (const delivery of await fetchAll(bulk, count)) await delivery.nak();

    const { code, stdout, stderr } = floodgate(["dlq", "replay", "--topic", topic, "--all"], env);

    expect(code, stderr).toBe(0);
    expect(stdout).toBe(`replayed ${count} dead letters from cli.bulk.dead to cli.bulk\n`);
    const progress = stderr.split("\n").filter((line) => line.startsWith("replaying ["));
    expect(progress[0]).toMatch(/ 0\/150$/);
    expect(progress).toContain(`replaying [${"#".repeat(20)}${".".repeat(10)}] 100/150`);
    expect(progress.at(-1)).toMatch(/ 150\/150$/);
  });
});
