import { describe, expect, it } from "vitest";
import {
  hasLeftovers,
  jetStreamStreamPrefix,
  MAX_QUEUE_STEM_LENGTH,
  queueStemProblem,
  redisPrefixPattern,
  runNamespace,
} from "../../src/bench/target/run-namespace.js";

const TAG = "1a2b3c4d";

describe("a run's own names on shared servers", () => {
  it("leaves an embedded target alone", () => {
    expect(runNamespace({}, TAG)).toEqual({
      env: {},
      leftovers: { natsStreams: [], redisKeys: [], expiring: [] },
    });
    expect(runNamespace({ FLOODGATE_CACHE_URL: "none://" }, TAG).env).toEqual({});
    expect(hasLeftovers(runNamespace({}, TAG).leftovers)).toBe(false);
  });

  it("gives Redis stock and JetStream orders prefixes of the run, and lists what to remove", () => {
    const namespace = runNamespace(
      { FLOODGATE_STOCK_URL: "redis://127.0.0.1:6379", FLOODGATE_QUEUE_URL: "nats://127.0.0.1:4222" },
      TAG,
    );
    expect(namespace.env).toEqual({
      FLOODGATE_QUEUE_PREFIX: "bench-1a2b3c4d",
      FLOODGATE_STOCK_PREFIX: "bench:1a2b3c4d:",
    });
    expect(namespace.leftovers).toEqual({
      natsStreams: [{ url: "nats://127.0.0.1:4222", queuePrefix: "bench-1a2b3c4d" }],
      redisKeys: [{ url: "redis://127.0.0.1:6379", prefix: "bench:1a2b3c4d:" }],
      expiring: [],
    });
    expect(hasLeftovers(namespace.leftovers)).toBe(true);
  });

  it("takes a given prefix as the stem, so repeated runs still differ", () => {
    const env = {
      FLOODGATE_QUEUE_URL: "redis://127.0.0.1:6379",
      FLOODGATE_QUEUE_PREFIX: "mine",
      FLOODGATE_CACHE_URL: "redis://127.0.0.1:6379",
      FLOODGATE_CACHE_PREFIX: "bench-redis3:",
    };
    const first = runNamespace(env, TAG);
    const second = runNamespace(env, "ffff0000");
    expect(first.env).toEqual({
      FLOODGATE_QUEUE_PREFIX: "mine-1a2b3c4d",
      FLOODGATE_CACHE_PREFIX: "bench-redis3:1a2b3c4d:",
    });
    expect(second.env.FLOODGATE_QUEUE_PREFIX).toBe("mine-ffff0000");
    // Redis Streams keys live under `<queue prefix>:stream:`.
    expect(first.leftovers.redisKeys).toEqual([
      { url: "redis://127.0.0.1:6379", prefix: "mine-1a2b3c4d:" },
      { url: "redis://127.0.0.1:6379", prefix: "bench-redis3:1a2b3c4d:" },
    ]);
  });

  it("names the sold-out channels of the run even when only the stock is shared", () => {
    const namespace = runNamespace(
      { FLOODGATE_STOCK_URL: "redis-cluster://127.0.0.1:7000,127.0.0.1:7001" },
      TAG,
    );
    expect(namespace.env.FLOODGATE_QUEUE_PREFIX).toBe("bench-1a2b3c4d");
    expect(namespace.leftovers.natsStreams).toEqual([]);
    expect(runNamespace({ FLOODGATE_BROADCAST_URL: "nats://127.0.0.1:4222" }, TAG).env).toEqual({
      FLOODGATE_QUEUE_PREFIX: "bench-1a2b3c4d",
    });
  });

  it("cannot list Memcached keys, so it says they are left to expire", () => {
    const namespace = runNamespace({ FLOODGATE_CACHE_URL: "memcached://127.0.0.1:11211" }, TAG);
    expect(namespace.env).toEqual({ FLOODGATE_CACHE_PREFIX: "bench:1a2b3c4d:" });
    expect(namespace.leftovers.redisKeys).toEqual([]);
    expect(namespace.leftovers.expiring[0]).toContain("bench:1a2b3c4d:");
  });

  it("refuses a tag that is not the run tag's shape", () => {
    expect(() => runNamespace({}, "XYZ")).toThrow(RangeError);
  });

  it("checks that a queue-prefix stem leaves room for the tag within Floodgate's 32 characters", () => {
    expect(queueStemProblem("bench")).toBeNull();
    expect(queueStemProblem("a".repeat(MAX_QUEUE_STEM_LENGTH))).toBeNull();
    expect(queueStemProblem("a".repeat(MAX_QUEUE_STEM_LENGTH + 1))).toContain("FLOODGATE_QUEUE_PREFIX");
    expect(queueStemProblem("Bench")).not.toBeNull();
    expect(`${"a".repeat(MAX_QUEUE_STEM_LENGTH)}-${TAG}`).toHaveLength(32);
  });

  it("derives JetStream stream names and Redis match patterns from the prefixes", () => {
    expect(jetStreamStreamPrefix("bench-1a2b3c4d")).toBe("BENCH_1A2B3C4D_");
    expect(redisPrefixPattern("bench:1a2b3c4d:")).toBe("bench:1a2b3c4d:*");
    expect(redisPrefixPattern("a*b?[c]\\")).toBe("a\\*b\\?\\[c\\]\\\\*");
  });
});
