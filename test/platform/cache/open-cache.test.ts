import { describe, expect, it } from "vitest";
import { MemoryCache } from "../../../src/platform/cache/memory-cache.js";
import { cacheUrlScheme, openCache } from "../../../src/platform/cache/open-cache.js";
import { RedisCache } from "../../../src/platform/cache/redis-cache.js";
import { serverAvailable, servers } from "../../support/infra.js";

const redisUp = await serverAvailable("redis");

describe("openCache", () => {
  it("gives the in-process cache when the URL is unset, empty or memory://", async () => {
    for (const url of [undefined, "", "memory://", "MEMORY://local"]) {
      const cache = await openCache(url);
      expect(cache, String(url)).toBeInstanceOf(MemoryCache);
      await cache.close();
    }
  });

  it("refuses an unknown scheme, without echoing the password", async () => {
    const opening = openCache("mongodb://app:hunter2@h:1");
    await expect(opening).rejects.toThrow(/memory, redis, redis-cluster, memcached/);
    await expect(opening).rejects.not.toThrow(/hunter2/);
    await expect(openCache("localhost:6379")).rejects.toThrow(/scheme/);
  });

  it("fails for an unreachable Redis or Memcached within the connect timeout", async () => {
    const startedAt = Date.now();
    await expect(openCache("redis://127.0.0.1:1", { connectTimeoutMs: 200 })).rejects.toThrow(
      /cannot connect/,
    );
    await expect(openCache("redis-cluster://127.0.0.1:1", { connectTimeoutMs: 200 })).rejects.toThrow(
      /cannot connect/,
    );
    await expect(openCache("memcached://127.0.0.1:1", { connectTimeoutMs: 200 })).rejects.toThrow(
      /cannot connect/,
    );
    expect(Date.now() - startedAt).toBeLessThan(3000);
  });

  it.skipIf(!redisUp)("opens Redis for redis://", async () => {
    const cache = await openCache(servers.redis.url);
    expect(cache).toBeInstanceOf(RedisCache);
    await cache.close();
  });
});

describe("cacheUrlScheme", () => {
  it("reads the scheme of host-list URLs that new URL() rejects", () => {
    expect(cacheUrlScheme("redis-cluster://10.0.0.1:7000,10.0.0.2:7000")).toBe("redis-cluster");
    expect(cacheUrlScheme("Memcached://h1:11211,h2:11211")).toBe("memcached");
    expect(cacheUrlScheme(undefined)).toBe("memory");
    expect(cacheUrlScheme("")).toBe("memory");
    expect(cacheUrlScheme("localhost:6379")).toBeUndefined();
  });
});
