import { expect, it } from "vitest";
import type { Cache } from "../../../src/platform/cache/cache.js";
import { encodeEntry } from "../../../src/platform/cache/versioned-entry.js";

const LONG_TTL_MS = 120_000;

/**
 * Versioned entries (`readEntry`, `fill`, `retire`), which every adapter must implement as atomic
 * compare-and-sets with one ordering (src/platform/cache/versioned-entry.ts). Called from inside
 * describeCacheConformance, with its cache and its per-test key maker.
 */
export function itFillsByVersion(
  cache: () => Cache,
  key: (suffix: string) => string,
  options: { readonly shortTtlMs: number; readonly expiryGraceMs: number },
): void {
  /** A deadline far ahead: the adapters store it, readers (not adapters) enforce it. */
  const expiresAt = Date.now() + LONG_TTL_MS;
  const value = (version: number, text = `v${version}`) =>
    ({ kind: "value", version, expiresAt, value: text }) as const;
  const absent = { kind: "absent", version: 0, expiresAt } as const;

  it("versioned: a fill stores, and only a higher version replaces it", async () => {
    const k = key("fill-order");
    expect(await cache().readEntry(k)).toBeUndefined();
    expect(await cache().fill(k, value(3), LONG_TTL_MS)).toBe(true);
    expect(await cache().readEntry(k)).toEqual(value(3));
    expect(await cache().fill(k, value(2), LONG_TTL_MS)).toBe(false); // older: refused
    expect(await cache().fill(k, value(3, "same version"), LONG_TTL_MS)).toBe(true); // already there
    expect(await cache().readEntry(k)).toEqual(value(3));
    expect(await cache().fill(k, value(4), LONG_TTL_MS)).toBe(true);
    expect(await cache().readEntry(k)).toEqual(value(4));
  });

  it("versioned: an absent marker is an entry at its version", async () => {
    const k = key("absent");
    expect(await cache().fill(k, absent, LONG_TTL_MS)).toBe(true);
    expect(await cache().readEntry(k)).toEqual(absent);
    expect(await cache().fill(k, value(1), LONG_TTL_MS)).toBe(true);
    expect(await cache().fill(k, absent, LONG_TTL_MS)).toBe(false);
    expect(await cache().readEntry(k)).toEqual(value(1));
  });

  it("versioned: a retirement beats every fill below its version, and none at or above it", async () => {
    const k = key("retire");
    await cache().fill(k, value(1), LONG_TTL_MS);
    await cache().retire(k, 2, LONG_TTL_MS);
    expect(await cache().readEntry(k)).toEqual({ kind: "retired", version: 2 });
    expect(await cache().fill(k, value(1), LONG_TTL_MS)).toBe(false); // read before the write
    expect(await cache().readEntry(k)).toEqual({ kind: "retired", version: 2 });
    expect(await cache().fill(k, value(2), LONG_TTL_MS)).toBe(true); // the write's own value
    expect(await cache().readEntry(k)).toEqual(value(2));
  });

  it("versioned: a late retirement leaves a value at or above its version alone", async () => {
    const k = key("late-retire");
    await cache().retire(k, 1, LONG_TTL_MS); // on a missing key: written
    expect(await cache().readEntry(k)).toEqual({ kind: "retired", version: 1 });
    await cache().fill(k, value(5), LONG_TTL_MS);
    await cache().retire(k, 5, LONG_TTL_MS);
    await cache().retire(k, 3, LONG_TTL_MS);
    expect(await cache().readEntry(k)).toEqual(value(5));
    await cache().retire(k, 6, LONG_TTL_MS);
    await cache().retire(k, 6, LONG_TTL_MS); // a retried retirement
    expect(await cache().readEntry(k)).toEqual({ kind: "retired", version: 6 });
  });

  it("versioned: a plain string under the key counts as no entry, and a fill replaces it", async () => {
    const k = key("plain-then-versioned");
    await cache().set(k, '{"written":"by an older release"}', LONG_TTL_MS);
    expect(await cache().readEntry(k)).toBeUndefined();
    expect(await cache().fill(k, value(1), LONG_TTL_MS)).toBe(true);
    expect(await cache().readEntry(k)).toEqual(value(1));
    expect(await cache().get(k)).toBe(encodeEntry(value(1))); // plain reads see the stored form
  });

  it("versioned: keeps values byte for byte", async () => {
    const k = key("versioned-bytes");
    const text = 'héllo · 你好 · 🚀 · nul \u0000 · "quoted" | pipe \u0001 mark';
    await cache().fill(k, value(7, text), LONG_TTL_MS);
    expect(await cache().readEntry(k)).toEqual(value(7, text));
  });

  it("versioned: concurrent fills and a retirement end with the highest version", async () => {
    const k = key("versioned-race");
    const versions = [6, 2, 9, 4, 1, 8, 3, 7, 5, 10];
    await Promise.all([
      ...versions.map((version) => cache().fill(k, value(version), LONG_TTL_MS)),
      cache().retire(k, 11, LONG_TTL_MS),
    ]);
    expect(await cache().readEntry(k)).toEqual({ kind: "retired", version: 11 });
    const more = [12, 15, 13, 14];
    await Promise.all([...more.map((version) => cache().fill(k, value(version), LONG_TTL_MS))]);
    expect(await cache().readEntry(k)).toEqual(value(15));
  });

  it("versioned: a fill that reaches an empty key after its landing deadline is not stored", async () => {
    const k = key("fill-late");
    expect(await cache().fill(k, value(1), LONG_TTL_MS, Date.now() - 5_000)).toBe(false);
    expect(await cache().readEntry(k)).toBeUndefined();
    expect(await cache().fill(k, value(1), LONG_TTL_MS, Date.now() + 60_000)).toBe(true);
    expect(await cache().readEntry(k)).toEqual(value(1));
  });

  it("versioned: a late fill never leaves a key it could replace emptier than it found it", async () => {
    // Refused (Redis, memory), or stored whole (Memcached's CAS): never a retirement swapped for
    // nothing, which would let in the older fills that retirement stops.
    const k = key("fill-late-over-retirement");
    await cache().retire(k, 1, LONG_TTL_MS);
    await cache().fill(k, value(2), LONG_TTL_MS, Date.now() - 5_000);
    expect([{ kind: "retired", version: 1 }, value(2)]).toContainEqual(await cache().readEntry(k));
  });

  it("versioned: a fill that lands before its deadline lives its whole TTL, past the deadline", async () => {
    const k = key("fill-on-time");
    expect(await cache().fill(k, value(1), LONG_TTL_MS, Date.now() + 1_000)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await cache().readEntry(k)).toEqual(value(1));
  });

  it("versioned: fills and retirements expire after their TTL", async () => {
    const filled = key("versioned-ttl-fill");
    const retired = key("versioned-ttl-retire");
    await cache().fill(filled, value(1), options.shortTtlMs);
    await cache().retire(retired, 1, options.shortTtlMs);
    expect(await cache().readEntry(filled)).toEqual(value(1));
    await new Promise((resolve) => setTimeout(resolve, options.shortTtlMs + options.expiryGraceMs));
    expect(await cache().readEntry(filled)).toBeUndefined();
    expect(await cache().readEntry(retired)).toBeUndefined();
  });
}
