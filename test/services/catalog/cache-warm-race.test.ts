// Issue 16, defect 1: a warm caches the products it read before an update, after both deletes,
// and orders take the old price. A fill must lose to any newer version, whatever its timing.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverAvailable, servers } from "../../support/infra.js";
import {
  type CatalogDatabase,
  openCatalogDatabase,
  openReplica,
  type Replica,
  sleep,
} from "./fixtures/catalog-replicas.js";

/** Past the old second delete (500 ms): a fill landing later than that was never wiped. */
const LATE_MS = 600;

describe("a warm that read a product before an update", async () => {
  const redisUp = await serverAvailable("redis");
  let catalog: CatalogDatabase;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    catalog = await openCatalogDatabase("warm-race");
  });
  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.close()));
    await catalog?.close();
  });

  it("never caches the old price in a single process, however late its fill lands", async () => {
    const replica = await openReplica(catalog.database);
    replicas.push(replica);
    const { reader } = replica;
    const product = await catalog.create(reader, "WARM-ONE", 1999);
    const warmRead = await catalog.store.recentlyUpdated(10); // the warm's SELECT
    const readAt = Date.now();

    const updated = await catalog.store.update(product.id, { name: "p", priceCents: 5000, currency: "EUR" });
    await reader.invalidate(updated!);
    await sleep(LATE_MS);
    await reader.warm(warmRead, readAt); // its fill lands after the write

    expect((await reader.byId(product.id))?.priceCents).toBe(5000);
    expect((await reader.bySku("WARM-ONE"))?.priceCents).toBe(5000); // what an order is priced with
  });

  it.skipIf(!redisUp)(
    "never caches the old price in any replica when the warm runs on another one (Redis)",
    async () => {
      const redis = { url: servers.redis.url, prefix: `warm-race-${randomUUID().slice(0, 8)}:` };
      const writer = await openReplica(catalog.database, { redis });
      const starting = await openReplica(catalog.database, { redis }); // a replica starting during a sale
      replicas.push(writer, starting);
      const product = await catalog.create(writer.reader, "WARM-TWO", 1999);
      expect((await writer.reader.byId(product.id))?.priceCents).toBe(1999);
      const warmRead = await catalog.store.recentlyUpdated(10);
      const readAt = Date.now();

      const updated = await catalog.store.update(product.id, {
        name: "p",
        priceCents: 5000,
        currency: "EUR",
      });
      await writer.reader.invalidate(updated!);
      await sleep(LATE_MS);
      await starting.reader.warm(warmRead, readAt);

      for (const replica of [writer, starting]) {
        expect((await replica.reader.byId(product.id))?.priceCents).toBe(5000);
        expect((await replica.reader.bySku("WARM-TWO"))?.priceCents).toBe(5000);
      }
    },
  );
});
