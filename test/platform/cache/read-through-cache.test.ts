// The read-through cache's version rules, one race at a time, on a virtual clock. The race
// explorer (race-explorer.test.ts) generates such races; these pin down the narrow ones it reaches
// only now and then.
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { Cache } from "../../../src/platform/cache/cache.js";
import type { InvalidationBus, Retirement } from "../../../src/platform/cache/invalidation-bus.js";
import { LocalLoadLock } from "../../../src/platform/cache/load-lock.js";
import { MemoryCache } from "../../../src/platform/cache/memory-cache.js";
import {
  type Loader,
  ReadThroughCache,
  type ReadThroughOptions,
  type Versioned,
} from "../../../src/platform/cache/read-through-cache.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";
import { VirtualClock } from "./race-explorer/virtual-clock.js";

const TTLS = { ttlMs: 60_000, missingTtlMs: 2_000 };
const KEY = "product:{1}";

/** A bus whose messages the test delivers by hand (or never). */
class ManualBus implements InvalidationBus {
  readonly published: Retirement[][] = [];
  failing = false;
  private handler: (retirements: readonly Retirement[]) => void = () => {};
  async publish(retirements: readonly Retirement[]): Promise<void> {
    if (this.failing) throw new Error("bus down (test)");
    this.published.push([...retirements]);
  }
  subscribe(handler: (retirements: readonly Retirement[]) => void): void {
    this.handler = handler;
  }
  deliver(retirements: readonly Retirement[]): void {
    this.handler(retirements);
  }
  async close(): Promise<void> {}
}

/** A source row with a version, and loads the test releases by hand. */
class Source {
  version = 1;
  /** Version 0: no row. */
  row(): Versioned | undefined {
    return this.version === 0 ? undefined : { value: `v${this.version}`, version: this.version };
  }
  /** A load that reads the row now and answers when `release` is called. */
  held(): { load: Loader; release: () => void } {
    let release: () => void = () => {};
    const load: Loader = async () => {
      const row = this.row();
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return row;
    };
    return { load, release: () => release() };
  }
  readonly now: Loader = async () => this.row();
}

function quietMetrics(): Metrics {
  const metrics = Object.create(Metrics.prototype) as Metrics;
  (metrics as { registry: Registry }).registry = new Registry();
  return metrics;
}

function cacheOn(clock: VirtualClock, options: Partial<ReadThroughOptions> = {}): ReadThroughCache {
  return new ReadThroughCache({
    name: "test",
    metrics: quietMetrics(),
    invalidation: new ManualBus(),
    lock: new LocalLoadLock(),
    clock,
    random: () => 0, // no jitter: exact times
    l1MaxEntries: 64,
    ...options,
  });
}

const version = (value: string | undefined) => (value === undefined ? 0 : Number(value.slice(1)));

describe("ReadThroughCache versions", () => {
  it("a fill that read before a write loses to it in L2 and in L1, however late it lands", async () => {
    const clock = new VirtualClock();
    const source = new Source();
    const l2 = new MemoryCache({ now: clock.now, maxEntries: 64 });
    const writer = cacheOn(clock, { l2 });
    const other = cacheOn(clock, { l2 });
    const slow = source.held();
    const reading = other.get(KEY, slow.load, TTLS); // reads v1, answers later
    await clock.advance(100);
    source.version = 2;
    await writer.invalidate([{ key: KEY, version: 2 }]);
    await clock.advance(5_000);
    slow.release();
    expect(version(await reading)).toBe(1); // began before the write: may see either
    expect(await l2.readEntry(KEY)).toEqual({ kind: "retired", version: 2 });
    expect(version(await writer.get(KEY, source.now, TTLS))).toBe(2);
    expect(version(await other.get(KEY, source.now, TTLS))).toBe(2);
  });

  it("a warm that read before a write loses to it (one process, no L2)", async () => {
    const clock = new VirtualClock();
    const source = new Source();
    const cache = cacheOn(clock);
    const readAt = clock.now();
    const warmRead = source.row()!;
    await clock.advance(10);
    source.version = 2;
    await cache.invalidate([{ key: KEY, version: 2 }]);
    await clock.advance(2_000);
    expect(await cache.prime(KEY, warmRead, readAt, TTLS)).toBe(false);
    expect(version(await cache.get(KEY, source.now, TTLS))).toBe(2);
  });

  it("the writing process never hands out an older version, even when L2 kept it", async () => {
    const clock = new VirtualClock();
    const source = new Source();
    const l2 = new MemoryCache({ now: clock.now, maxEntries: 64 });
    let l2Down = false;
    const flaky: Cache = new Proxy(l2, {
      get: (target, property, receiver) => {
        const member = Reflect.get(target, property, receiver) as unknown;
        if (property !== "retire" || typeof member !== "function") return member;
        return async (...args: unknown[]) => {
          if (l2Down) throw new Error("L2 unreachable (test)");
          return (member as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const bus = new ManualBus();
    const writer = cacheOn(clock, { l2: flaky, invalidation: bus });
    expect(version(await writer.get(KEY, source.now, TTLS))).toBe(1);
    l2Down = true;
    bus.failing = true;
    source.version = 2;
    await writer.invalidate([{ key: KEY, version: 2 }]);
    expect((await l2.readEntry(KEY))?.version).toBe(1); // the retirement did not land
    expect(version(await writer.get(KEY, source.now, TTLS))).toBe(2);

    // It is retried, and published once it lands (another process may have read the old entry).
    l2Down = false;
    bus.failing = false;
    await clock.advance(600);
    expect(await l2.readEntry(KEY)).toMatchObject({ version: 2 });
    expect(bus.published).toEqual([[{ key: KEY, version: 2 }]]);
  });

  it("a read never joins a load begun before a write it heard of", async () => {
    const clock = new VirtualClock();
    const source = new Source();
    const bus = new ManualBus();
    const cache = cacheOn(clock, { invalidation: bus });
    const slow = source.held();
    const first = cache.get(KEY, slow.load, TTLS);
    await clock.advance(100);
    source.version = 2;
    bus.deliver([{ key: KEY, version: 2 }]);
    const second = cache.get(KEY, source.now, TTLS);
    slow.release();
    expect(version(await second)).toBe(2);
    expect(version(await first)).toBe(1);
  });

  it("a read never joins a load older than the L1 TTL", async () => {
    const clock = new VirtualClock();
    const source = new Source();
    const cache = cacheOn(clock, { l1TtlMs: 5_000 });
    const slow = source.held();
    const first = cache.get(KEY, slow.load, TTLS);
    await clock.advance(5_001);
    source.version = 2; // committed by another process, whose message never came
    const second = cache.get(KEY, source.now, TTLS);
    expect(version(await second)).toBe(2);
    slow.release();
    await first;
  });

  it("a read that joined a load whose answer ran out before the read began loads again", async () => {
    const clock = new VirtualClock();
    const source = new Source();
    source.version = 0; // no such product yet
    const cache = cacheOn(clock, { l1TtlMs: 5_000 });
    const slow = source.held(); // finds nothing; its "absent" is good for 2 s from its start
    const first = cache.get(KEY, slow.load, TTLS);
    await clock.advance(2_500);
    source.version = 1; // created by another process
    const second = cache.get(KEY, source.now, TTLS); // within the join window, past that answer's time
    slow.release();
    expect(version(await second)).toBe(1);
    expect(version(await first)).toBe(0);
  });

  it("an L1 copy of an L2 entry never outlives the entry's own deadline", async () => {
    const clock = new VirtualClock();
    const source = new Source();
    const l2 = new MemoryCache({ now: clock.now, maxEntries: 64 });
    // Loaded long ago, 1 s of its time left (as after a restore from a snapshot).
    await l2.fill(KEY, { kind: "value", version: 1, expiresAt: 1_000, value: "v1" }, 60_000);
    const cache = cacheOn(clock, { l2, l1TtlMs: 5_000 });
    expect(version(await cache.get(KEY, source.now, TTLS))).toBe(1);
    source.version = 2; // its retirement was lost with the restore
    await clock.advance(1_000);
    expect(version(await cache.get(KEY, source.now, TTLS))).toBe(2);
  });

  it("stores no fill whose read began more than maxFillAge ago, nor a value with less than that left", async () => {
    const clock = new VirtualClock();
    await clock.advance(100_000);
    const l2 = new MemoryCache({ now: clock.now, maxEntries: 64 });
    const cache = cacheOn(clock, { l2, maxFillAgeMs: 10_000 });
    const row = { value: "v1", version: 1 };
    expect(await cache.prime(KEY, row, clock.now() - 10_001, TTLS)).toBe(false);
    expect(await cache.prime(KEY, row, clock.now() - 5_000, { ttlMs: 12_000, missingTtlMs: 2_000 })).toBe(
      false,
    );
    expect(await l2.readEntry(KEY)).toBeUndefined();
    expect(await cache.prime(KEY, row, clock.now() - 9_999, TTLS)).toBe(true);
    expect(await l2.readEntry(KEY)).toMatchObject({ version: 1, expiresAt: clock.now() - 9_999 + 60_000 });
  });

  // Race explorer, seed 662318084 (memcached): a fill sent on time reached L2 3 s later, after the
  // write's retirement (2.5 s) had expired, and was stored with its old version for its whole TTL.
  it("refuses, where it lands, a fill that reaches L2 after the write's retirement expired", async () => {
    const clock = new VirtualClock();
    const source = new Source();
    const l2 = new MemoryCache({ now: clock.now, maxEntries: 64 });
    // The fill's request travels 3 s (a timed-out call that still lands, a paused process).
    const slowFills: Cache = new Proxy(l2, {
      get: (target, property, receiver) => {
        const member = Reflect.get(target, property, receiver) as unknown;
        if (property !== "fill" || typeof member !== "function") return member;
        return async (...args: unknown[]) => {
          await clock.sleep(3_000);
          return (member as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const short = { retireTtlMs: 2_500, maxFillAgeMs: 2_000, l1TtlMs: 1_000 };
    const other = cacheOn(clock, { l2: slowFills, ...short });
    const writer = cacheOn(clock, { l2, ...short });
    const reading = other.get(KEY, source.now, TTLS); // reads v1 at 0; its fill lands at 3 s
    await clock.advance(100);
    source.version = 2;
    await writer.invalidate([{ key: KEY, version: 2 }]); // retired in L2 from 100 ms to 2.6 s
    await clock.advance(3_000);
    expect(version(await reading)).toBe(1); // began before the write: may see either
    expect(await l2.readEntry(KEY)).toBeUndefined();
    await clock.advance(2_000); // the retirement landed more than the L1 TTL (with jitter) ago
    const third = cacheOn(clock, { l2, ...short });
    expect(version(await third.get(KEY, source.now, TTLS))).toBe(2);
  });

  // Race explorer, seed 20261203 (Redis, a restore): the writer had only warmed an absent marker
  // (2 s TTL), so its floor lasted 2 s + 2.5 s, while another process's entry of the old version
  // lived 60 s; when that entry came back into L2, the writer read it, 4.5 s after its own write.
  it("the writing process refuses an older entry L2 gets back, whatever TTLs it used itself", async () => {
    const clock = new VirtualClock();
    const source = new Source();
    const l2 = new MemoryCache({ now: clock.now, maxEntries: 64 });
    const short = { retireTtlMs: 2_500, maxFillAgeMs: 2_000 };
    const other = cacheOn(clock, { l2, ...short });
    const writer = cacheOn(clock, { l2, ...short });
    expect(version(await other.get(KEY, source.now, TTLS))).toBe(1); // in L2 for 60 s
    const snapshot = l2.snapshot();
    source.version = 2;
    await writer.invalidate([{ key: KEY, version: 2 }]);
    await clock.advance(10_000);
    l2.restore(snapshot); // a restore (or a late fill) brings v1 back
    expect(version(await writer.get(KEY, source.now, TTLS))).toBe(2);
  });

  it("counts an L1 copy's TTL from the start of the read that made it, not from the fill", async () => {
    const clock = new VirtualClock();
    const source = new Source();
    const l2 = new MemoryCache({ now: clock.now, maxEntries: 64 });
    const cache = cacheOn(clock, { l2, l1TtlMs: 5_000 });
    const slow = source.held();
    const reading = cache.get(KEY, slow.load, TTLS);
    await clock.advance(3_000);
    slow.release();
    expect(version(await reading)).toBe(1); // in L1 from 3 s, until 5 s
    source.version = 2;
    await l2.retire(KEY, 2, 60_000); // another process's write, whose message never came
    await clock.advance(2_001);
    expect(version(await cache.get(KEY, source.now, TTLS))).toBe(2);
  });
});
