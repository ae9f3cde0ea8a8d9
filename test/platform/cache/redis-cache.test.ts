import { afterEach, describe, expect, it } from "vitest";
import { connectRedis, openRedisCache, type RedisCache } from "../../../src/platform/cache/redis-cache.js";
import { serverAvailable, servers } from "../../support/infra.js";
import { redisBinariesAvailable, startRedisServer } from "../../support/redis-cluster.js";
import type { SpawnedServer } from "../../support/spawned-server.js";
import { describeCacheConformance, msUntilSucceeds, timeToSettle, waitFor } from "./cache-conformance.js";

// Throws (failing this file) when the server is down and FLOODGATE_REQUIRE_INFRA=1.
const redisUp = await serverAvailable("redis");
// The outage tests start (and kill) a redis-server of their own.
const canStartRedis = redisBinariesAvailable();

/** Generous: the shared machine is noisy, and these tests are about behaviour, not latency. */
const PATIENT = { commandTimeoutMs: 2000 };
/** "Fails fast" means each call settles within this while the server is down or hung. */
const FAIL_FAST_BOUND_MS = 1000;

describe.skipIf(!redisUp)("Redis server (shared, 127.0.0.1:6379)", () => {
  describeCacheConformance("redis", () => openRedisCache(servers.redis.url, PATIENT), {
    shortTtlMs: 300,
    expiryGraceMs: 1000,
  });

  it("stores the TTL in milliseconds (SET … PX), rounding a fraction up", async () => {
    const cache = await openRedisCache(servers.redis.url, PATIENT);
    const inspector = await connectRedis(servers.redis.url, PATIENT);
    const key = `redis-ttl-test:${process.pid}:${Date.now()}`;
    try {
      await cache.set(key, "v", 1500.2);
      const remainingMs = await inspector.pttl(key);
      expect(remainingMs).toBeGreaterThan(1000);
      expect(remainingMs).toBeLessThanOrEqual(1501);
      await expect(cache.set(key, "v", 0)).rejects.toThrow(RangeError);
      await expect(cache.set(key, "v", -5)).rejects.toThrow(RangeError);
      await expect(cache.set(key, "v", Number.NaN)).rejects.toThrow(RangeError);
    } finally {
      await cache.delete(key);
      await cache.close();
      inspector.disconnect();
    }
  });

  it("selects the database given in the URL path", async () => {
    const inDb3 = await openRedisCache(`${servers.redis.url}/3`, PATIENT);
    const inDb0 = await openRedisCache(servers.redis.url, PATIENT);
    const key = `redis-db-test:${process.pid}:${Date.now()}`;
    try {
      await inDb3.set(key, "in db 3", 60_000);
      expect(await inDb3.get(key)).toBe("in db 3");
      expect(await inDb0.get(key)).toBeUndefined();
    } finally {
      await inDb3.delete(key);
      await Promise.all([inDb3.close(), inDb0.close()]);
    }
  });
});

describe("openRedisCache", () => {
  it("fails at open when nothing listens, naming the server but never the password", async () => {
    const startedAt = Date.now();
    const opening = openRedisCache("redis://app:s3cr3t-pw@127.0.0.1:1", { connectTimeoutMs: 300 });
    await expect(opening).rejects.toThrow(
      /cannot connect to the cache at redis:\/\/app:\*\*\*@127\.0\.0\.1:1/,
    );
    await expect(opening).rejects.not.toThrow(/s3cr3t-pw/);
    expect(Date.now() - startedAt).toBeLessThan(3000);
  });

  it("rejects URLs it cannot use, before connecting", async () => {
    await expect(openRedisCache("redis://127.0.0.1:6379,127.0.0.1:6380")).rejects.toThrow(/redis-cluster/);
    await expect(openRedisCache("redis://127.0.0.1:6379/zero")).rejects.toThrow(/database number/);
    await expect(openRedisCache("redis://127.0.0.1:99999")).rejects.toThrow(/out of range/);
    await expect(openRedisCache("memcached://127.0.0.1:11211")).rejects.toThrow(/expected redis/);
    await expect(openRedisCache("redis://127.0.0.1", { commandTimeoutMs: 0 })).rejects.toThrow(RangeError);
  });
});

describe.skipIf(!canStartRedis)("Redis outage (a redis-server of this test's own)", () => {
  let server: SpawnedServer | undefined;
  let cache: RedisCache | undefined;

  afterEach(async () => {
    await cache?.close();
    await server?.kill();
    cache = undefined;
    server = undefined;
  });

  it("fails fast while the server is down, reports it, and recovers by itself", async () => {
    server = await startRedisServer();
    const reported: Error[] = [];
    cache = await openRedisCache(`redis://${server.host}:${server.port}`, {
      onError: (error) => reported.push(error),
    });
    await cache.set("outage:key", "before", 60_000);
    const open = cache;

    await server.kill();
    for (let round = 0; round < 5; round++) {
      for (const call of [() => open.get("outage:key"), () => open.set("outage:key", "during", 60_000)]) {
        const settled = await timeToSettle(call);
        expect(settled.rejected).toBe(true);
        expect(settled.ms).toBeLessThan(FAIL_FAST_BOUND_MS);
      }
    }
    await waitFor(() => reported.length > 0, 5000, "a connection error to be reported");
    expect(reported[0]?.message).toMatch(new RegExp(`redis 127\\.0\\.0\\.1:${server.port}: `));

    await server.restart();
    // The reconnect backoff is capped at 1 s by default.
    const recoveryMs = await msUntilSucceeds(() => open.set("outage:key", "after", 60_000), 5000);
    expect(recoveryMs).toBeLessThan(5000);
    expect(await open.get("outage:key")).toBe("after");
  });

  it("times out calls to a hung server, and recovers when it answers again", async () => {
    server = await startRedisServer();
    cache = await openRedisCache(`redis://${server.host}:${server.port}`);
    const open = cache;
    await open.set("hung:key", "before", 60_000);

    server.pause();
    try {
      for (let round = 0; round < 3; round++) {
        const settled = await timeToSettle(() => open.get("hung:key"));
        expect(settled.rejected).toBe(true);
        expect(String(settled.error)).toMatch(/timed out/i);
        expect(settled.ms).toBeLessThan(FAIL_FAST_BOUND_MS);
      }
    } finally {
      server.resume();
    }
    await msUntilSucceeds(() => open.get("hung:key"), 5000);
    // Replies to the timed-out calls arrive late; none may be taken for the answer to a new call.
    for (let call = 0; call < 30; call++) expect(await open.get("hung:key")).toBe("before");
    const burst = await Promise.all(Array.from({ length: 100 }, () => open.get("hung:key")));
    expect(burst.every((value) => value === "before")).toBe(true);
  });
});
