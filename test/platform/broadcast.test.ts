import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Broadcast } from "../../src/platform/broadcast/broadcast.js";
import { openBroadcast } from "../../src/platform/broadcast/open-broadcast.js";
import { serverAvailable, servers } from "../support/infra.js";
import { type RedisCluster, redisBinariesAvailable, startRedisCluster } from "../support/redis-cluster.js";
import { eventually } from "../support/test-server.js";

const redisUp = await serverAvailable("redis");
const natsUp = await serverAvailable("nats");

async function deliversToEveryone(url: string | undefined, processes: 1 | 2, opened: Broadcast[]) {
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  const first = await openBroadcast(url, { prefix });
  opened.push(first);
  // Two connections stand for two processes; in-process there is only one.
  const second = processes === 2 ? await openBroadcast(url, { prefix }) : first;
  if (second !== first) opened.push(second);
  const heard: string[] = [];
  first.subscribe("stock", (m) => heard.push(`first:${m}`));
  second.subscribe("stock", (m) => heard.push(`second:${m}`));
  second.subscribe("other", (m) => heard.push(`other:${m}`));
  // A subscription reaches the server asynchronously: publish until both have heard one.
  await eventually(async () => {
    await first.publish("stock", "sold-out");
    await new Promise((resolve) => setTimeout(resolve, 20));
    return heard.includes("first:sold-out") && heard.includes("second:sold-out");
  }, 10_000);
  expect(heard.some((m) => m.startsWith("other:"))).toBe(false);
}

describe.skipIf(!redisBinariesAvailable())("broadcast: redis-cluster", () => {
  let cluster: RedisCluster | undefined;
  const opened: Broadcast[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(opened.map((b) => b.close()));
    await cluster?.stop();
  });
  it("delivers a message published on one node to subscribers on any node", async () => {
    await deliversToEveryone(cluster!.url, 2, opened);
  });
});

describe.each([
  { name: "memory", url: undefined, up: true, processes: 1 },
  { name: "redis", url: servers.redis.url, up: redisUp, processes: 2 },
  { name: "nats", url: servers.nats.url, up: natsUp, processes: 2 },
])("broadcast: $name", ({ url, up, processes }) => {
  const opened: Broadcast[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((b) => b.close()));
  });

  it.skipIf(!up)("delivers a message to every subscriber, the publisher's own process included", async () => {
    await deliversToEveryone(url, processes as 1 | 2, opened);
  });
});
