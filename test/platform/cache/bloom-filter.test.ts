import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bloomShape } from "../../../src/platform/cache/bloom/bloom-math.js";
import type { MembershipFilter } from "../../../src/platform/cache/bloom/membership-filter.js";
import { MemoryBloomFilter } from "../../../src/platform/cache/bloom/memory-bloom-filter.js";
import { RedisBloomFilter } from "../../../src/platform/cache/bloom/redis-bloom-filter.js";
import { serverAvailable, servers } from "../../support/infra.js";

const TARGET_FP = 0.01;
const MEMBERS = Array.from({ length: 10_000 }, (_, i) => `member-${i * 7919}`);

/** Measured false-positive rate over `probes` items that were never added. */
async function falsePositiveRate(filter: MembershipFilter, probes: number): Promise<number> {
  let positives = 0;
  for (let i = 0; i < probes; i++) if (await filter.mightContain(`stranger-${i}`)) positives++;
  return positives / probes;
}

describe("Bloom filter sizing", () => {
  it("follows the textbook optimum", () => {
    expect(bloomShape(1_000_000, 0.01)).toEqual({ bits: 9_585_059, hashes: 7 });
    expect(() => bloomShape(0, 0.01)).toThrow(RangeError);
    expect(() => bloomShape(10, 1)).toThrow(RangeError);
  });
});

describe("in-process Bloom filter", () => {
  it("never says no for a member and stays within the target false-positive rate", async () => {
    const filter = new MemoryBloomFilter(TARGET_FP);
    expect(filter.test("anything")).toBe(true); // never built: rules nothing out
    await filter.rebuild(MEMBERS, MEMBERS.length);
    for (const member of MEMBERS) expect(filter.test(member)).toBe(true);
    const rate = await falsePositiveRate(filter, 100_000);
    expect(rate).toBeLessThanOrEqual(TARGET_FP * 1.5);
    expect(rate).toBeGreaterThan(0); // a filter that says "no" to everything would also pass the line above
  });

  it("rebuilds bigger and keeps every member", async () => {
    const filter = new MemoryBloomFilter(TARGET_FP);
    await filter.rebuild([], 100);
    await filter.add(MEMBERS.slice(0, 1000)); // ten times over capacity: the rate degrades…
    expect(await falsePositiveRate(filter, 10_000)).toBeGreaterThan(TARGET_FP * 5);
    await filter.rebuild(MEMBERS, MEMBERS.length * 2); // …until rebuilt
    expect(await filter.state()).toMatchObject({ count: MEMBERS.length, capacity: MEMBERS.length * 2 });
    for (const member of MEMBERS) expect(filter.test(member)).toBe(true);
    expect(await falsePositiveRate(filter, 20_000)).toBeLessThanOrEqual(TARGET_FP * 1.5);
  });
});

describe("in-process Bloom filter stamp", () => {
  it("is set by a rebuild and moved on only by adds against that build", async () => {
    const filter = new MemoryBloomFilter(TARGET_FP);
    expect(await filter.lookup("x")).toEqual({ maybe: true, stamp: 0 }); // never built
    await filter.rebuild(["a"], 100, { stamp: 1000, builtAt: 5000 });
    const built = await filter.state();
    expect(built).toMatchObject({ stamp: 1000, builtAt: 5000, intact: true });
    await filter.add(["b"], { stamp: 2000, generation: built.generation });
    expect(await filter.lookup("b")).toEqual({ maybe: true, stamp: 2000 });
    await filter.add(["c"], { stamp: 1500, generation: built.generation }); // never backwards
    await filter.add(["d"], { stamp: 9000, generation: "another build" }); // computed against another
    expect((await filter.state()).stamp).toBe(2000);
    expect(await filter.mightContain("d")).toBe(true); // its bits are added all the same
  });
});

describe("Redis Bloom filter", async () => {
  const up = await serverAvailable("redis");
  let redis: Redis;
  const name = `test-${process.pid}-${Date.now()}`;

  beforeAll(() => {
    if (up) redis = new Redis(servers.redis.url);
  });
  const others: string[] = [];
  afterAll(async () => {
    if (!up) return;
    for (const each of [name, ...others]) await redis.del(`{bloom:${each}}:bits`, `{bloom:${each}}:meta`);
    redis.disconnect();
  });

  it.skipIf(!up)("matches the in-process filter bit for bit and meets the target rate", async () => {
    const filter = new RedisBloomFilter(redis, name, TARGET_FP);
    expect(await filter.mightContain("anything")).toBe(true); // not built yet: cannot rule out
    await filter.rebuild(MEMBERS.slice(0, 5000), MEMBERS.length);
    await filter.add(MEMBERS.slice(5000));
    const local = new MemoryBloomFilter(TARGET_FP);
    await local.rebuild(MEMBERS, MEMBERS.length);
    for (const member of MEMBERS.slice(0, 2000)) expect(await filter.mightContain(member)).toBe(true);
    let disagreements = 0;
    for (let i = 0; i < 2000; i++) {
      if ((await filter.mightContain(`stranger-${i}`)) !== local.test(`stranger-${i}`)) disagreements++;
    }
    expect(disagreements).toBe(0);
    expect(await filter.state()).toMatchObject({ count: MEMBERS.length, capacity: MEMBERS.length });
  });

  it.skipIf(!up)(
    "a process holding the old shape still answers right after another rebuilt it bigger",
    async () => {
      const stale = new RedisBloomFilter(redis, name, TARGET_FP);
      expect(await stale.mightContain(MEMBERS[0]!)).toBe(true); // caches the current shape
      const rebuilder = new RedisBloomFilter(redis, name, TARGET_FP);
      await rebuilder.rebuild([...MEMBERS, "new-member"], 50_000);
      expect(await stale.mightContain("new-member")).toBe(true);
      await stale.add(["added-by-stale"]);
      expect(await rebuilder.mightContain("added-by-stale")).toBe(true);
    },
  );

  it.skipIf(!up)("keeps its stamp with its bits, moved on only by adds against the same build", async () => {
    const own = `${name}-stamp`;
    others.push(own);
    const filter = new RedisBloomFilter(redis, own, TARGET_FP);
    expect(await filter.lookup("x")).toEqual({ maybe: true, stamp: 0 }); // never built
    await filter.rebuild(["a"], 1000, { stamp: 1000, builtAt: 5000 });
    const built = await filter.state();
    expect(built).toMatchObject({ capacity: 1000, stamp: 1000, builtAt: 5000, intact: true });
    await filter.add(["b"], { stamp: 2000, generation: built.generation });
    expect(await filter.lookup("b")).toEqual({ maybe: true, stamp: 2000 });
    expect(await filter.lookup("never-added")).toEqual({ maybe: false, stamp: 2000 });
    await filter.add([], { stamp: 3000, generation: built.generation }); // nothing new, time moves on
    await filter.add(["c"], { stamp: 2500, generation: built.generation }); // never backwards
    await filter.add(["d"], { stamp: 9000, generation: "another build" });
    expect((await filter.state()).stamp).toBe(3000);
    expect(await filter.mightContain("d")).toBe(true);
  });

  it.skipIf(!up)(
    "answers maybe for everything when its bitmap alone is gone, and says it is not intact",
    async () => {
      const own = `${name}-lost`;
      others.push(own);
      const filter = new RedisBloomFilter(redis, own, TARGET_FP);
      await filter.rebuild(MEMBERS.slice(0, 100), 1000, { stamp: 1000, builtAt: 5000 });
      expect(await filter.mightContain("stranger")).toBe(false);
      await redis.del(`{bloom:${own}}:bits`); // evicted
      expect(await filter.lookup("stranger")).toEqual({ maybe: true, stamp: 1000 });
      expect((await filter.state()).intact).toBe(false);
      await filter.add(["while-lost"]); // refused: a bitmap of one item would rule out every other
      expect(await redis.exists(`{bloom:${own}}:bits`)).toBe(0);
      expect(await filter.mightContain(MEMBERS[0]!)).toBe(true);
      await filter.rebuild(MEMBERS.slice(0, 100), 1000, { stamp: 2000, builtAt: 6000 });
      expect((await filter.state()).intact).toBe(true);
      expect(await filter.mightContain("stranger")).toBe(false);
    },
  );
});
