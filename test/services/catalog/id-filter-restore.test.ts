// Issue 16, defect 3: a Redis restored from an older snapshot (or that lost the filter's bitmap)
// made products created since answer 404 forever, and every order for them fail.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { MemoryBloomFilter } from "../../../src/platform/cache/bloom/memory-bloom-filter.js";
import { RedisBloomFilter } from "../../../src/platform/cache/bloom/redis-bloom-filter.js";
import { SnowflakeGenerator } from "../../../src/platform/ids/snowflake.js";
import { ProductReader } from "../../../src/services/catalog/product-reader.js";
import { ProductStore } from "../../../src/services/catalog/product-store.js";
import { serverAvailable, servers } from "../../support/infra.js";
import {
  type CatalogDatabase,
  openCatalogDatabase,
  openReplica,
  type Replica,
} from "./fixtures/catalog-replicas.js";

describe("the product id filter", async () => {
  const redisUp = await serverAvailable("redis");
  let catalog: CatalogDatabase;
  let redis: Redis;
  const replicas: Replica[] = [];
  const filterNames: string[] = [];

  /** A filter of this test's own, shared (as in production) by every replica given it. */
  function sharedFilter(): { name: string; keys: [string, string]; open: () => RedisBloomFilter } {
    const name = `id-filter-test-${randomUUID().slice(0, 8)}`;
    filterNames.push(name);
    return {
      name,
      keys: [`{bloom:${name}}:bits`, `{bloom:${name}}:meta`],
      open: () => new RedisBloomFilter(redis, name, 0.01),
    };
  }

  beforeAll(async () => {
    catalog = await openCatalogDatabase("id-filter-restore");
    if (redisUp) redis = new Redis(servers.redis.url);
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.close()));
    if (redisUp) {
      for (const name of filterNames) await redis.del(`{bloom:${name}}:bits`, `{bloom:${name}}:meta`);
      redis.disconnect();
    }
    await catalog?.close();
  });

  it.skipIf(!redisUp)("finds products created after the snapshot Redis was restored from", async () => {
    // The clock is moved by hand, so "created two minutes before the restore" takes no time.
    vi.useFakeTimers({ toFake: ["Date"] });
    const start = Date.now();
    vi.setSystemTime(start);
    const filter = sharedFilter();
    // A long-running replica. It never reads the new product before the restore, so no answer of
    // its cache hides what its filter says.
    const replica = await openReplica(catalog.database, { filter: filter.open() });
    replicas.push(replica);
    const older = await catalog.create(replica.reader, "BEFORE-SNAPSHOT", 1);
    vi.setSystemTime(start + 1000);
    await replica.reader.refreshFilter();
    const snapshot = await Promise.all(filter.keys.map((key) => redis.dumpBuffer(key)));

    vi.setSystemTime(start + 2000);
    const created = await catalog.create(replica.reader, "AFTER-SNAPSHOT", 1);
    vi.setSystemTime(start + 120_000);
    await replica.reader.refreshFilter();
    expect(await filter.open().mightContain(created.id)).toBe(true);

    // Redis comes back from the snapshot: the filter is what it was before the product existed.
    for (const [index, key] of filter.keys.entries())
      await redis.restore(key, 0, snapshot[index]!, "REPLACE");
    expect((await replica.reader.byId(created.id))?.sku).toBe("AFTER-SNAPSHOT");
    vi.setSystemTime(start + 121_000);
    await replica.reader.refreshFilter();
    expect((await replica.reader.bySku("AFTER-SNAPSHOT"))?.id).toBe(created.id); // what an order reads
    expect((await replica.reader.byId(older.id))?.sku).toBe("BEFORE-SNAPSHOT");
    expect(await filter.open().mightContain(created.id)).toBe(true);

    // A replica that never saw the filter before the restore finds it too.
    const fresh = await openReplica(catalog.database, { filter: filter.open() });
    replicas.push(fresh);
    expect((await fresh.reader.byId(created.id))?.sku).toBe("AFTER-SNAPSHOT");
  });

  it.skipIf(!redisUp)("finds every product when the bitmap alone was evicted", async () => {
    const filter = sharedFilter();
    const replica = await openReplica(catalog.database, { filter: filter.open() });
    replicas.push(replica);
    const product = await catalog.create(replica.reader, "EVICTED-BITS", 1);
    // Old enough that the filter is asked about it (recent ids are admitted without asking).
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 300_000);
    await replica.reader.refreshFilter();

    await redis.del(filter.keys[0]);
    expect((await replica.reader.byId(product.id))?.sku).toBe("EVICTED-BITS");
    await replica.reader.refreshFilter();
    expect((await replica.reader.byId(product.id))?.sku).toBe("EVICTED-BITS");
    // Rebuilt, it rules out ids that were never issued again.
    const stranger = new SnowflakeGenerator(9, () => Date.now() - 200_000).next(0);
    expect(await replica.reader.byId(stranger)).toBeUndefined();
    expect(await filter.open().mightContain(stranger)).toBe(false);
  });

  it("is rebuilt from the table at least every full-rebuild interval", async () => {
    const filter = new MemoryBloomFilter(0.01);
    const replica = await openReplica(catalog.database, { filter });
    replicas.push(replica);
    let now = Date.now();
    const reader = new ProductReader(new ProductStore(catalog.database), replica.cache, filter, 1000, {
      now: () => now,
      fullRebuildIntervalMs: 60_000,
    });
    await reader.refreshFilter();
    const first = await filter.state();
    now += 30_000;
    await reader.refreshFilter();
    expect((await filter.state()).generation).toBe(first.generation); // added to, not rebuilt
    now += 30_000;
    await reader.refreshFilter();
    const second = await filter.state();
    expect(second.generation).not.toBe(first.generation);
    expect(second.builtAt).toBe(now);
  });
});
