import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type MemcachedCache,
  memcachedExpiry,
  memcachedKey,
  openMemcachedCache,
} from "../../../src/platform/cache/memcached-cache.js";
import { memcachedAvailable, startMemcached } from "../../support/memcached.js";
import type { SpawnedServer } from "../../support/spawned-server.js";
import { describeCacheConformance, msUntilSucceeds, timeToSettle, waitFor } from "./cache-conformance.js";

// Throws (failing this file) when memcached is missing and FLOODGATE_REQUIRE_INFRA=1.
const canStartMemcached = memcachedAvailable();

const PATIENT = { commandTimeoutMs: 2000 };
const FAIL_FAST_BOUND_MS = 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

describe("memcachedKey", () => {
  it("keeps short, plain keys as they are", () => {
    expect(memcachedKey("catalog:product:42")).toBe("catalog:product:42");
    expect(memcachedKey("{product:42}:v3")).toBe("{product:42}:v3");
    expect(memcachedKey("ünïcödé")).toBe("ünïcödé");
  });

  it("hashes keys over 250 bytes, or with spaces or control characters, to sha1:<hex>", () => {
    for (const key of [
      "k".repeat(251),
      "with space",
      "tab\there",
      "nul\u0000",
      "del\u007f",
      "é".repeat(126),
    ]) {
      expect(memcachedKey(key)).toMatch(/^sha1:[0-9a-f]{40}$/);
    }
    expect(memcachedKey("k".repeat(250))).toBe("k".repeat(250));
    expect(memcachedKey(`${"k".repeat(300)}a`)).not.toBe(memcachedKey(`${"k".repeat(300)}b`));
  });

  it("hashes a key that already looks hashed, so two cache keys never share a stored key", () => {
    const hashed = memcachedKey("with space");
    expect(memcachedKey(hashed)).not.toBe(hashed);
  });
});

describe("memcachedExpiry", () => {
  it("rounds milliseconds up to whole seconds", () => {
    expect(memcachedExpiry(1)).toBe(1);
    expect(memcachedExpiry(1000)).toBe(1);
    expect(memcachedExpiry(1001)).toBe(2);
    expect(memcachedExpiry(60_000)).toBe(60);
  });

  it("turns a TTL past 30 days into the Unix time Memcached expects there", () => {
    const now = Date.UTC(2026, 0, 1);
    expect(memcachedExpiry(30 * DAY_MS, now)).toBe(30 * 86_400);
    expect(memcachedExpiry(31 * DAY_MS, now)).toBe(now / 1000 + 31 * 86_400);
  });

  it("rejects TTLs that are not positive", () => {
    expect(() => memcachedExpiry(0)).toThrow(RangeError);
    expect(() => memcachedExpiry(-1)).toThrow(RangeError);
    expect(() => memcachedExpiry(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

describe("openMemcachedCache", () => {
  it("fails at open when nothing listens, naming the server but never the password", async () => {
    const startedAt = Date.now();
    const opening = openMemcachedCache("memcached://app:s3cr3t-pw@127.0.0.1:1", { connectTimeoutMs: 300 });
    await expect(opening).rejects.toThrow(
      /cannot connect to the cache at memcached:\/\/app:\*\*\*@127\.0\.0\.1:1/,
    );
    await expect(opening).rejects.not.toThrow(/s3cr3t-pw/);
    expect(Date.now() - startedAt).toBeLessThan(3000);
  });

  it("rejects URLs it cannot use, before connecting", async () => {
    await expect(openMemcachedCache("redis://127.0.0.1:6379")).rejects.toThrow(/expected memcached/);
    await expect(openMemcachedCache("memcached://127.0.0.1:11211/db")).rejects.toThrow(/no path/);
    await expect(openMemcachedCache("memcached://127.0.0.1:0")).rejects.toThrow(/out of range/);
  });
});

describe.skipIf(!canStartMemcached)("Memcached (a memcached of this test's own)", () => {
  let server: SpawnedServer;

  beforeAll(async () => {
    server = await startMemcached();
  });

  afterAll(async () => {
    await server?.kill();
  });

  const url = () => `memcached://${server.host}:${server.port}`;

  describeCacheConformance("memcached", () => openMemcachedCache(url(), PATIENT), {
    // Memcached's clock ticks in whole seconds: a 2 s entry lives between 1 and 2 s, and the
    // tick itself may run late on a busy machine.
    shortTtlMs: 2000,
    expiryGraceMs: 2500,
  });

  it("keeps an entry whose TTL is over 30 days (sent as a Unix time)", async () => {
    const cache = await openMemcachedCache(url(), PATIENT);
    try {
      await cache.set("long-lived", "a month and more", 45 * DAY_MS);
      // Sent as seconds from now, 45 days would be read as a Unix time in 1970: already expired.
      expect(await cache.get("long-lived")).toBe("a month and more");
    } finally {
      await cache.delete("long-lived");
      await cache.close();
    }
  });

  it("rejects a value over Memcached's item size instead of hanging", async () => {
    const cache = await openMemcachedCache(url(), PATIENT);
    try {
      await expect(cache.set("too-large", "x".repeat(2 * 1024 * 1024), 60_000)).rejects.toThrow(/too large/i);
    } finally {
      await cache.close();
    }
  });

  it("opens over several servers and spreads keys between them", async () => {
    const second = await startMemcached();
    const cache = await openMemcachedCache(`${url()},${second.host}:${second.port}`, PATIENT);
    const onlyFirst = await openMemcachedCache(url(), PATIENT);
    const keys = Array.from({ length: 50 }, (_, index) => `spread:${process.pid}:${index}`);
    try {
      await Promise.all(keys.map((key) => cache.set(key, "x", 60_000)));
      expect((await Promise.all(keys.map((key) => cache.get(key)))).every((value) => value === "x")).toBe(
        true,
      );
      const onFirst = (await Promise.all(keys.map((key) => onlyFirst.get(key)))).filter(Boolean).length;
      expect(onFirst).toBeGreaterThan(5);
      expect(onFirst).toBeLessThan(45);
    } finally {
      await Promise.all(keys.map((key) => cache.delete(key)));
      await Promise.all([cache.close(), onlyFirst.close()]);
      await second.kill();
    }
  });
});

describe.skipIf(!canStartMemcached)("Memcached outage (a memcached of this test's own)", () => {
  let server: SpawnedServer | undefined;
  let cache: MemcachedCache | undefined;

  afterEach(async () => {
    await cache?.close();
    await server?.kill();
    cache = undefined;
    server = undefined;
  });

  it("fails fast while the server is down, reports it, and recovers by itself", async () => {
    server = await startMemcached();
    const reported: Error[] = [];
    cache = await openMemcachedCache(`memcached://${server.host}:${server.port}`, {
      onError: (error) => reported.push(error),
    });
    const open = cache;
    await open.set("outage:key", "before", 60_000);

    await server.kill();
    for (let round = 0; round < 5; round++) {
      for (const call of [() => open.get("outage:key"), () => open.set("outage:key", "during", 60_000)]) {
        const settled = await timeToSettle(call);
        expect(settled.rejected).toBe(true);
        expect(settled.ms).toBeLessThan(FAIL_FAST_BOUND_MS);
      }
    }
    await waitFor(() => reported.length > 0, 5000, "a connection error to be reported");
    expect(reported[0]?.message).toMatch(new RegExp(`memcached 127\\.0\\.0\\.1:${server.port}: `));

    await server.restart();
    const recoveryMs = await msUntilSucceeds(() => open.set("outage:key", "after", 60_000), 5000);
    expect(recoveryMs).toBeLessThan(5000);
    expect(await open.get("outage:key")).toBe("after");
  });

  it("times out calls to a hung server, and recovers when it answers again", async () => {
    server = await startMemcached();
    cache = await openMemcachedCache(`memcached://${server.host}:${server.port}`);
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
