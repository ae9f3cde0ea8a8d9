import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { openEmbeddedStream } from "../../../src/platform/queue/embedded/embedded-stream.js";
import { openJetStream } from "../../../src/platform/queue/nats/jetstream-stream.js";
import { openRedisStreams } from "../../../src/platform/queue/redis-streams/redis-streams.js";
import type { Stream } from "../../../src/platform/queue/stream.js";
import { serverAvailable, servers } from "../../support/infra.js";
import { deleteStreams } from "../../support/nats-streams.js";

const natsUp = await serverAvailable("nats");
const redisUp = await serverAvailable("redis");
const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const TRACE = {
  traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
  tracestate: "floodgate=1",
};
const GROUP = { visibilityTimeoutMs: 30_000, maxAttempts: 5 };

/**
 * Appends one message with headers and one without, plain and de-duplicated, and returns what
 * the first deliveries carry.
 */
async function roundTrip(stream: Stream) {
  await stream.append("headers", new TextEncoder().encode("with"), { headers: TRACE });
  await stream.append("headers", new TextEncoder().encode("deduplicated"), {
    headers: TRACE,
    dedupId: `dedup-${runId}`,
  });
  await stream.append("headers", new TextEncoder().encode("without"));
  const group = stream.group("headers", "readers", GROUP);
  const deliveries = [];
  while (deliveries.length < 3) deliveries.push(...(await group.fetch(10, 1000)));
  for (const delivery of deliveries) await delivery.ack();
  await group.close();
  return deliveries.map((delivery) => ({
    data: new TextDecoder().decode(delivery.data),
    headers: delivery.headers,
  }));
}

const CARRIED = [
  { data: "with", headers: TRACE },
  { data: "deduplicated", headers: TRACE },
  { data: "without", headers: undefined },
];

describe("message headers (trace context beside the message)", () => {
  it.skipIf(!natsUp)("NATS JetStream delivers them, without its own Nats-* headers", async () => {
    const streamPrefix = `FGHDR_${runId.toUpperCase()}_`;
    const stream = await openJetStream(servers.nats.url, {
      streamPrefix,
      subjectPrefix: `fghdr.${runId}`,
    });
    try {
      expect(await roundTrip(stream)).toEqual(CARRIED);
    } finally {
      await stream.close();
      await deleteStreams(servers.nats.url, streamPrefix);
    }
  });

  it.skipIf(!redisUp)("Redis Streams delivers them, on the plain and the de-duplicated append", async () => {
    const keyPrefix = `fghdr:${runId}:`;
    const stream = await openRedisStreams(servers.redis.url, { keyPrefix });
    try {
      expect(await roundTrip(stream)).toEqual(CARRIED);
    } finally {
      await stream.close();
      const redis = new Redis(servers.redis.url);
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it("the embedded log takes them and delivers the message without them", async () => {
    const dir = await mkdtemp(join(tmpdir(), "floodgate-headers-"));
    const stream = await openEmbeddedStream(dir);
    try {
      expect((await roundTrip(stream)).map((delivery) => delivery.headers)).toEqual([
        undefined,
        undefined,
        undefined,
      ]);
    } finally {
      await stream.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
