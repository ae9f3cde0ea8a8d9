import { describe, expect, it } from "vitest";
import {
  addressesIn,
  describeTargetAdapters,
  runsOnRedisAndJetStream,
  serverAddresses,
  targetAdapters,
} from "../../src/bench/target/target-adapters.js";

describe("what a bench target's settings select", () => {
  it("defaults to the embedded adapters", () => {
    expect(targetAdapters({})).toEqual({
      stock: "memory",
      queue: "embedded",
      broadcast: "memory",
      cache: "memory",
      database: "pglite",
    });
    expect(describeTargetAdapters({})).toBe(
      "stock in process memory, queue: the embedded log, sold-out news in process, cache in process, database PGlite",
    );
    expect(runsOnRedisAndJetStream({})).toBe(false);
    expect(serverAddresses({})).toEqual([]);
  });

  it("sends sold-out news over the stock Redis, as the runtime does", () => {
    const env = {
      FLOODGATE_STOCK_URL: "redis://127.0.0.1:6379",
      FLOODGATE_QUEUE_URL: "nats://127.0.0.1:4222",
    };
    expect(targetAdapters(env)).toMatchObject({ stock: "redis", queue: "nats", broadcast: "redis" });
    expect(runsOnRedisAndJetStream(env)).toBe(true);
    expect(describeTargetAdapters(env)).toContain("queue on NATS JetStream (nats://127.0.0.1:4222)");
    expect(targetAdapters({ FLOODGATE_QUEUE_URL: "nats://127.0.0.1:4222" }).broadcast).toBe("nats");
    expect(runsOnRedisAndJetStream({ FLOODGATE_QUEUE_URL: "nats://127.0.0.1:4222" })).toBe(false);
  });

  it("finds every server the settings point at, once each, with default ports", () => {
    expect(
      serverAddresses({
        FLOODGATE_STOCK_URL: "redis://127.0.0.1",
        FLOODGATE_QUEUE_URL: "nats://127.0.0.1:4222",
        FLOODGATE_CACHE_URL: "redis://127.0.0.1:6379",
        FLOODGATE_DATABASE_URLS: "postgres://root@127.0.0.1:5432/test,postgres://root:pw@localhost:5433/test",
      }),
    ).toEqual([
      { scheme: "redis", host: "127.0.0.1", port: 6379 },
      { scheme: "nats", host: "127.0.0.1", port: 4222 },
      { scheme: "postgres", host: "127.0.0.1", port: 5432 },
      { scheme: "postgres", host: "localhost", port: 5433 },
    ]);
    expect(addressesIn("redis-cluster://127.0.0.1:7000,127.0.0.1:7001")).toEqual([
      { scheme: "redis-cluster", host: "127.0.0.1", port: 7000 },
      { scheme: "redis-cluster", host: "127.0.0.1", port: 7001 },
    ]);
    expect(addressesIn("memory://")).toEqual([]);
    expect(addressesIn("none://")).toEqual([]);
  });
});
