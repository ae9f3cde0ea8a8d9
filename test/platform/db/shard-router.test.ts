import { describe, expect, it } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import {
  createShardRouter,
  VIRTUAL_SHARDS,
  virtualShardForKey,
} from "../../../src/platform/db/shard-router.js";
import { MAX_SHARD } from "../../../src/platform/ids/snowflake.js";

/** The router only hands databases out; it never calls them. */
function namedDatabase(name: string): Database {
  const unused = () => Promise.reject(new Error(`${name} is a routing placeholder`));
  return { name, query: unused, exec: unused, transaction: unused, close: async () => {} };
}

function physicalDatabases(count: number): Database[] {
  return Array.from({ length: count }, (_, index) => namedDatabase(`shard-${index}`));
}

describe("createShardRouter", () => {
  it("has as many virtual shards as a snowflake id can name", () => {
    expect(VIRTUAL_SHARDS).toBe(64);
    expect(VIRTUAL_SHARDS).toBe(MAX_SHARD + 1);
  });

  it.each([1, 2, 3, 5, 8, 64])("maps every virtual shard to exactly one of %i databases", (count) => {
    const physical = physicalDatabases(count);
    const router = createShardRouter(physical);
    expect(router.physicalCount).toBe(count);
    expect(router.primary).toBe(physical[0]);
    expect(router.all()).toEqual(physical);

    const owners = new Map<number, number>();
    for (let physicalIndex = 0; physicalIndex < count; physicalIndex++) {
      const shards = router.virtualShardsOf(physicalIndex);
      expect(shards.length).toBeGreaterThan(0);
      for (const virtualShard of shards) {
        expect(owners.has(virtualShard)).toBe(false);
        owners.set(virtualShard, physicalIndex);
        expect(router.forVirtualShard(virtualShard)).toBe(physical[physicalIndex]);
      }
    }
    expect([...owners.keys()].sort((a, b) => a - b)).toEqual(
      Array.from({ length: VIRTUAL_SHARDS }, (_, v) => v),
    );
  });

  it("maps virtual shard v to database v % N", () => {
    const physical = physicalDatabases(3);
    const router = createShardRouter(physical);
    expect(router.forVirtualShard(0)).toBe(physical[0]);
    expect(router.forVirtualShard(4)).toBe(physical[1]);
    expect(router.forVirtualShard(63)).toBe(physical[0]);
    expect(router.virtualShardsOf(2).slice(0, 3)).toEqual([2, 5, 8]);
  });

  it("rejects shards and indexes out of range, and impossible configurations", () => {
    const router = createShardRouter(physicalDatabases(2));
    for (const bad of [-1, 64, 1.5, Number.NaN])
      expect(() => router.forVirtualShard(bad)).toThrow(RangeError);
    expect(() => router.virtualShardsOf(2)).toThrow(RangeError);
    expect(() => createShardRouter([])).toThrow(/at least one/);
    expect(() => createShardRouter(physicalDatabases(65))).toThrow(/at most 64/);
  });

  it("does not follow later changes to the array it was given", () => {
    const physical = physicalDatabases(2);
    const router = createShardRouter(physical);
    physical.push(namedDatabase("late"));
    expect(router.physicalCount).toBe(2);
    expect(router.all()).toHaveLength(2);
  });
});

describe("virtualShardForKey", () => {
  it("is stable: the same key always lands on the same shard, across releases", () => {
    // Pinned values: if these change, every existing user's orders would move shards.
    // (Cross-checked against an independent implementation of FNV-1a + murmur3 fmix32.)
    expect(["user-1", "user-2", "alice@example.com", "", "ユーザー"].map(virtualShardForKey)).toEqual([
      44, 17, 40, 11, 40,
    ]);
    expect(virtualShardForKey("user-1")).toBe(virtualShardForKey("user-1"));
  });

  it("spreads keys over every virtual shard, none more than 3x the mean", () => {
    const keysPerShard = new Array<number>(VIRTUAL_SHARDS).fill(0);
    const keyCount = 10_000;
    for (let index = 0; index < keyCount; index++) {
      const shard = virtualShardForKey(`user-${index}`);
      expect(Number.isInteger(shard) && shard >= 0 && shard < VIRTUAL_SHARDS).toBe(true);
      keysPerShard[shard]! += 1;
    }
    const mean = keyCount / VIRTUAL_SHARDS;
    expect(Math.min(...keysPerShard)).toBeGreaterThan(0);
    expect(Math.max(...keysPerShard)).toBeLessThanOrEqual(3 * mean);
  });

  it("separates keys that differ only in the high bits of one byte", () => {
    // 'a' (0x61) and '!' (0x21) share their low 6 bits: plain FNV-1a % 64 puts every such pair on
    // the same shard. A well-mixed hash collides about 1 time in 64.
    let collisions = 0;
    const pairs = 1_000;
    for (let index = 0; index < pairs; index++) {
      if (virtualShardForKey(`user-${index}-a`) === virtualShardForKey(`user-${index}-!`)) collisions++;
    }
    expect(collisions / pairs).toBeLessThan(0.05);
  });
});
