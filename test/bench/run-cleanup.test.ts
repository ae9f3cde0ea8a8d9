import { randomBytes } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { removeLeftovers } from "../../src/bench/target/run-cleanup.js";
import { jetStreamStreamPrefix, runNamespace } from "../../src/bench/target/run-namespace.js";
import { serverAvailable, servers } from "../support/infra.js";

const natsUp = await serverAvailable("nats");
const redisUp = await serverAvailable("redis");

/** Removing a bench run's leftovers from the real servers, and nothing else. */
describe.skipIf(!natsUp || !redisUp)("removing what a bench run wrote on Redis and JetStream", () => {
  it("deletes the run's streams and keys and leaves everyone else's", async () => {
    const tag = randomBytes(4).toString("hex");
    const { env, leftovers } = runNamespace(
      { FLOODGATE_STOCK_URL: servers.redis.url, FLOODGATE_QUEUE_URL: servers.nats.url },
      tag,
    );
    const queuePrefix = env.FLOODGATE_QUEUE_PREFIX!;
    const streamPrefix = jetStreamStreamPrefix(queuePrefix);
    const connection = await connect({ servers: servers.nats.url, timeout: 5_000 });
    const redis = new Redis(servers.redis.url);
    // A stream named like the run's but holding someone else's subjects must survive.
    const impostor = `${streamPrefix}impostor`;
    try {
      const manager = await jetstreamManager(connection);
      await manager.streams.add({
        name: `${streamPrefix}orders~requested`,
        subjects: [`${queuePrefix}.orders.requested`],
      });
      await manager.streams.add({
        name: `${streamPrefix}orders~requested~dead`,
        subjects: [`${queuePrefix}.orders.requested.dead`],
      });
      await manager.streams.add({ name: impostor, subjects: [`other-${tag}.orders`] });
      const stockPrefix = env.FLOODGATE_STOCK_PREFIX!;
      await redis.set(`${stockPrefix}stock:{FLASH}:sale`, "1");
      await redis.set(`${stockPrefix}stock:skus`, "1");
      await redis.set(`bench:${tag}-other`, "1");

      const outcome = await removeLeftovers(leftovers);

      expect(outcome.errors).toEqual([]);
      expect(outcome.streamsDeleted.sort()).toEqual([
        `${streamPrefix}orders~requested`,
        `${streamPrefix}orders~requested~dead`,
      ]);
      expect(outcome.keysDeleted).toBe(2);
      const left: string[] = [];
      for await (const name of manager.streams.names()) if (name.startsWith(streamPrefix)) left.push(name);
      expect(left).toEqual([impostor]);
      expect(await redis.exists(`bench:${tag}-other`)).toBe(1);
    } finally {
      await (await jetstreamManager(connection)).streams.delete(impostor).catch(() => false);
      await redis.del(`bench:${tag}-other`);
      redis.disconnect();
      await connection.close();
    }
  });

  it("reports a server it cannot reach instead of throwing", async () => {
    const outcome = await removeLeftovers({
      natsStreams: [{ url: "nats://127.0.0.1:1", queuePrefix: "bench-00000000" }],
      redisKeys: [{ url: "redis://127.0.0.1:1", prefix: "bench:00000000:" }],
      expiring: [],
    });
    expect(outcome.streamsDeleted).toEqual([]);
    expect(outcome.errors).toHaveLength(2);
  }, 30_000);
});
