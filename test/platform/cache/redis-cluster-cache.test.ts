import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { versionedKey } from "../../../src/platform/cache/cache-keys.js";
import { openRedisCache, type RedisCache } from "../../../src/platform/cache/redis-cache.js";
import { type RedisCluster, redisBinariesAvailable, startRedisCluster } from "../../support/redis-cluster.js";
import type { SpawnedServer } from "../../support/spawned-server.js";
import { describeCacheConformance, msUntilSucceeds, timeToSettle, waitFor } from "./cache-conformance.js";

// Throws (failing this file) when the binaries are missing and FLOODGATE_REQUIRE_INFRA=1.
const canStartCluster = redisBinariesAvailable();

const PATIENT = { commandTimeoutMs: 2000 };
const FAIL_FAST_BOUND_MS = 1000;
const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

describe.skipIf(!canStartCluster)("Redis Cluster (3 masters of this test's own)", () => {
  let cluster: RedisCluster;

  beforeAll(async () => {
    cluster = await startRedisCluster();
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  describeCacheConformance("redis-cluster", () => openRedisCache(cluster.url, PATIENT), {
    shortTtlMs: 300,
    expiryGraceMs: 1000,
  });

  /** The master whose keyspace holds `key` (SCAN sees only a node's own keys). */
  async function masterHolding(key: string): Promise<SpawnedServer> {
    const holders: SpawnedServer[] = [];
    for (const master of cluster.masters) {
      const found = await cluster.cli(master, "--scan", "--pattern", key);
      if (found.trim() === key) holders.push(master);
    }
    expect(holders).toHaveLength(1);
    return holders[0]!;
  }

  describe("key placement", () => {
    let cache: RedisCache;

    beforeAll(async () => {
      cache = await openRedisCache(cluster.url, PATIENT);
    });

    afterAll(async () => {
      await cache?.close();
    });

    it("puts every version of one entity on one slot, and different entities on different slots", async () => {
      const slotOf = async (key: string) =>
        Number((await cluster.cli(cluster.masters[0]!, "cluster", "keyslot", key)).trim());
      const oneEntity = [
        versionedKey("product", "42"),
        versionedKey("product", "42", 1),
        versionedKey("product", "42", 2),
        versionedKey("product", "42", "2024-06-01.1"),
      ];
      const slots = await Promise.all(oneEntity.map(slotOf));
      expect(new Set(slots).size).toBe(1);

      const otherEntities = await Promise.all(
        Array.from({ length: 20 }, (_, index) => slotOf(versionedKey("product", String(100 + index), 1))),
      );
      expect(new Set(otherEntities).size).toBeGreaterThan(10);
    });

    it("spreads entities over all three masters", async () => {
      const keys = Array.from({ length: 300 }, (_, index) => versionedKey("spread", `${runId}-${index}`, 1));
      try {
        await Promise.all(keys.map((key) => cache.set(key, "x", 60_000)));
        for (const master of cluster.masters) {
          const held = (await cluster.cli(master, "--scan", "--pattern", `{spread:${runId}-*`))
            .split("\n")
            .filter((line) => line !== "");
          // 300 keys over 3 masters: each should hold about 100; 40 leaves room for chance.
          expect(held.length, `keys on :${master.port}`).toBeGreaterThan(40);
        }
      } finally {
        await Promise.all(keys.map((key) => cache.delete(key)));
      }
    });
  });

  // Last in the file: it kills a master, and the cluster needs a moment to be whole again.
  describe("a master goes down", () => {
    it("fails fast for its keys, keeps serving the others, reports it, and recovers by itself", async () => {
      const reported: Error[] = [];
      const cache = await openRedisCache(cluster.url, { onError: (error) => reported.push(error) });
      try {
        const keys = Array.from({ length: 30 }, (_, index) => versionedKey("outage", `${runId}-${index}`, 1));
        await Promise.all(keys.map((key) => cache.set(key, "before", 60_000)));
        const victim = await masterHolding(keys[0]!);
        const owners = await Promise.all(keys.map((key) => masterHolding(key)));
        const onVictim = keys.filter((_, index) => owners[index] === victim);
        const elsewhere = keys.filter((_, index) => owners[index] !== victim);
        expect(elsewhere.length).toBeGreaterThan(0);

        await victim.kill();
        for (const key of onVictim.slice(0, 5)) {
          for (const call of [() => cache.get(key), () => cache.set(key, "during", 60_000)]) {
            const settled = await timeToSettle(call);
            expect(settled.rejected).toBe(true);
            expect(settled.ms).toBeLessThan(FAIL_FAST_BOUND_MS);
          }
        }
        for (const key of elsewhere.slice(0, 5)) {
          expect(await cache.get(key)).toBe("before");
        }
        await waitFor(() => reported.length > 0, 5000, "a connection error to be reported");
        expect(reported.some((error) => error.message.includes(`:${victim.port}`))).toBe(true);

        await victim.restart();
        // A restarted master refuses writes for ~2 s (Redis's rejoin delay), then the client's
        // node reconnect (backoff capped at 1 s) or slot refresh finds it again.
        const recoveryMs = await msUntilSucceeds(() => cache.set(onVictim[0]!, "after", 60_000), 15_000);
        expect(recoveryMs).toBeLessThan(15_000);
        expect(await cache.get(onVictim[0]!)).toBe("after");
        await Promise.all(keys.map((key) => cache.delete(key)));
      } finally {
        await cache.close();
      }
      await cluster.waitUntilHealthy();
    }, 60_000);
  });
});
