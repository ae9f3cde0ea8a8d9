import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Cache } from "../../../src/platform/cache/cache.js";
import { itFillsByVersion } from "./versioned-conformance.js";

export interface CacheConformanceOptions {
  /**
   * A TTL the expiry test waits out: long enough to read the entry back right after writing it,
   * short enough to keep the test quick. Memcached counts whole seconds, so it needs 2000.
   */
  readonly shortTtlMs: number;
  /** How long after `shortTtlMs` the entry may still be readable (the server's clock granularity). */
  readonly expiryGraceMs: number;
}

/** Long enough to outlive any test; entries a crashed run leaves behind still go away by themselves. */
const LONG_TTL_MS = 120_000;
const CONCURRENT_CALLS = 500;

/** Servers keep keys across runs and test files share them, so every key starts with this run's id. */
const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
let testCounter = 0;

/**
 * The behaviour every Cache adapter must share (src/platform/cache/cache.ts). `open` is called once
 * for the suite (and once more by the close test); each test writes under a key prefix of its own
 * and deletes what it wrote, so the suite can run against a shared server.
 */
export function describeCacheConformance(
  name: string,
  open: () => Promise<Cache>,
  options: CacheConformanceOptions,
): void {
  describe(`Cache conformance: ${name}`, () => {
    let cache: Cache;
    let written: string[] = [];
    /** A key under this test's prefix, deleted after the test. */
    const key = (suffix: string) => {
      const full = `conformance:${name}:${runId}:${testCounter}:${suffix}`;
      written.push(full);
      return full;
    };

    beforeAll(async () => {
      cache = await open();
    });

    afterEach(async () => {
      testCounter += 1;
      const keys = written;
      written = [];
      await Promise.all(keys.map((k) => cache.delete(k)));
    });

    afterAll(async () => {
      await cache?.close();
    });

    it("answers undefined for a key that was never set", async () => {
      expect(await cache.get(key("never-set"))).toBeUndefined();
    });

    it("returns what was set, until it is deleted", async () => {
      const k = key("plain");
      await cache.set(k, "value-1", LONG_TTL_MS);
      expect(await cache.get(k)).toBe("value-1");
      await cache.delete(k);
      expect(await cache.get(k)).toBeUndefined();
    });

    it("deletes a missing key without complaint", async () => {
      await expect(cache.delete(key("missing"))).resolves.toBeUndefined();
    });

    it("overwrites a value, and the latest TTL applies", async () => {
      const k = key("overwrite");
      await cache.set(k, "first", options.shortTtlMs);
      await cache.set(k, "second", LONG_TTL_MS);
      expect(await cache.get(k)).toBe("second");
      // Had the first TTL survived the overwrite, the entry would be gone by now.
      await sleep(options.shortTtlMs + options.expiryGraceMs);
      expect(await cache.get(k)).toBe("second");
    });

    it("expires an entry after its TTL, and only that entry", async () => {
      const shortLived = key("short-ttl");
      const longLived = key("long-ttl");
      await cache.set(shortLived, "soon gone", options.shortTtlMs);
      await cache.set(longLived, "still here", LONG_TTL_MS);
      const writtenAt = Date.now();
      expect(await cache.get(shortLived)).toBe("soon gone");
      const deadline = writtenAt + options.shortTtlMs + options.expiryGraceMs;
      while ((await cache.get(shortLived)) !== undefined) {
        if (Date.now() > deadline) {
          throw new Error(`still readable ${Date.now() - writtenAt} ms after a ${options.shortTtlMs} ms TTL`);
        }
        await sleep(50);
      }
      // A TTL read in the wrong unit (seconds as ms, or ms as seconds) fails one of these two.
      expect(await cache.get(longLived)).toBe("still here");
    });

    it("keeps values byte for byte: unicode, NUL, empty, whitespace, JSON", async () => {
      const values = [
        "",
        " ",
        "line one\nline two\r\n\ttabbed",
        "héllo wörld · 你好，世界 · Привет · مرحبا · 🚀🎉👩‍👩‍👧",
        "e\u0301 (combining accent) and \u00e9 (precomposed)",
        "nul \u0000 inside",
        JSON.stringify({ id: "1234567890123456789", name: 'Tee "Flash"', tags: ["a", "b"], price: 19.99 }),
      ];
      const keys = values.map((_, index) => key(`value-${index}`));
      await Promise.all(values.map((value, index) => cache.set(keys[index]!, value, LONG_TTL_MS)));
      const readBack = await Promise.all(keys.map((k) => cache.get(k)));
      expect(readBack).toEqual(values);
    });

    it("stores a 100 KB value", async () => {
      const k = key("large");
      const value = "0123456789abcdef→".repeat(6000); // ~108 KB of UTF-8
      await cache.set(k, value, LONG_TTL_MS);
      const readBack = await cache.get(k);
      expect(readBack?.length).toBe(value.length);
      expect(readBack === value).toBe(true);
    });

    it("takes keys of any length and content, and keeps them distinct", async () => {
      const long = "k".repeat(300);
      const suffixes = [
        "with spaces in it",
        "new\nline and\ttab",
        "control\u0001\u007fchars",
        "ünïcödé-ключ-键",
        "{braces}:and:colons",
        "sha1:0000000000000000000000000000000000000000",
        `${long}-a`,
        `${long}-b`, // differs from the previous key only after byte 300
        "x".repeat(1000),
      ];
      const keys = suffixes.map((suffix) => key(suffix));
      await Promise.all(keys.map((k, index) => cache.set(k, `value for ${index}`, LONG_TTL_MS)));
      const readBack = await Promise.all(keys.map((k) => cache.get(k)));
      expect(readBack).toEqual(keys.map((_, index) => `value for ${index}`));
    });

    it(`serves ${CONCURRENT_CALLS} concurrent sets, then as many concurrent gets`, async () => {
      const keys = Array.from({ length: CONCURRENT_CALLS }, (_, index) => key(`concurrent-${index}`));
      await Promise.all(keys.map((k, index) => cache.set(k, `value-${index}`, LONG_TTL_MS)));
      const readBack = await Promise.all(keys.map((k) => cache.get(k)));
      expect(readBack).toEqual(keys.map((_, index) => `value-${index}`));
    });

    it("keeps the last write when the same key is set concurrently", async () => {
      const k = key("contended");
      const candidates = Array.from({ length: 50 }, (_, index) => `writer-${index}`);
      await Promise.all(candidates.map((value) => cache.set(k, value, LONG_TTL_MS)));
      expect(candidates).toContain(await cache.get(k));
    });

    itFillsByVersion(() => cache, key, options);

    it("closes: idempotent, and calls after close settle instead of hanging", async () => {
      const other = await open();
      const k = key("close");
      await other.set(k, "written before close", LONG_TTL_MS);
      await other.close();
      await other.close();
      // Whether a closed cache rejects (networked) or still answers (in-process) is the adapter's
      // business; hanging is not allowed.
      const outcome = await Promise.race([
        other.get(k).then(
          () => "settled",
          () => "settled",
        ),
        sleep(2000).then(() => "hung"),
      ]);
      expect(outcome).toBe("settled");
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface Settled {
  readonly ms: number;
  readonly rejected: boolean;
  readonly error?: unknown;
}

/** Runs `call` and reports how long it took to settle and whether it rejected. */
export async function timeToSettle(call: () => Promise<unknown>): Promise<Settled> {
  const startedAt = performance.now();
  try {
    await call();
    return { ms: performance.now() - startedAt, rejected: false };
  } catch (error) {
    return { ms: performance.now() - startedAt, rejected: true, error };
  }
}

/** Retries `call` until it resolves; returns how long that took. Throws after `timeoutMs`. */
export async function msUntilSucceeds(call: () => Promise<unknown>, timeoutMs: number): Promise<number> {
  const startedAt = performance.now();
  let lastError: unknown;
  for (;;) {
    try {
      await call();
      return performance.now() - startedAt;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() - startedAt > timeoutMs) {
      throw new Error(`still failing after ${timeoutMs} ms: ${String(lastError)}`, { cause: lastError });
    }
    await sleep(50);
  }
}

/** Resolves when `condition` holds; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}
