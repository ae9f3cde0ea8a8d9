// Issue 16, defect 5: a read that starts after a write joined a slow load begun before it and got
// the old value, even in the writing process.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serverAvailable, servers } from "../../support/infra.js";
import {
  type CatalogDatabase,
  openCatalogDatabase,
  openReplica,
  type Replica,
  sleep,
  slowedDatabase,
  versionOf,
} from "./fixtures/catalog-replicas.js";

/** Lookups by id answer this late (the row is read at once): a slow database. */
const SLOW_MS = 1500;
/** The read after the write starts this long after it: past the old 500 ms window. */
const AFTER_WRITE_MS = 600;
const BY_ID = /WHERE id = \$1/;

describe("a read that starts after a write, while a load begun before it is still running", async () => {
  const redisUp = await serverAvailable("redis");
  let catalog: CatalogDatabase;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    catalog = await openCatalogDatabase("slow-load");
  });
  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.close()));
    await catalog?.close();
  });

  it("gets the new version in the writing process", async () => {
    const replica = await openReplica(slowedDatabase(catalog.database, BY_ID, SLOW_MS));
    replicas.push(replica);
    const product = await catalog.create(replica.reader, "SLOW-ONE", 100);
    await sleep(AFTER_WRITE_MS); // the creation is a write too: let its window pass
    const before = replica.reader.jsonById(product.id); // reads v1, answers 1.5 s later

    await sleep(50);
    const updated = await catalog.store.update(product.id, { name: "p", priceCents: 200, currency: "EUR" });
    await replica.reader.invalidate(updated!);
    await sleep(AFTER_WRITE_MS);

    expect(versionOf(await replica.reader.jsonById(product.id))).toBe(2);
    expect(versionOf(await before)).toBe(1); // the read that began before the write may see either
  });

  it.skipIf(!redisUp)("gets the new version in another process once the invalidation arrived", async () => {
    const redis = { url: servers.redis.url, prefix: `slow-load-${randomUUID().slice(0, 8)}:` };
    const writer = await openReplica(catalog.database, { redis });
    const other = await openReplica(slowedDatabase(catalog.database, BY_ID, SLOW_MS), { redis });
    replicas.push(writer, other);
    const product = await catalog.create(writer.reader, "SLOW-TWO", 100);
    await sleep(AFTER_WRITE_MS);
    const before = other.reader.jsonById(product.id);

    await sleep(50);
    const updated = await catalog.store.update(product.id, { name: "p", priceCents: 200, currency: "EUR" });
    await writer.reader.invalidate(updated!);
    await sleep(AFTER_WRITE_MS); // pub/sub delivery on one machine takes well under this

    expect(versionOf(await other.reader.jsonById(product.id))).toBe(2);
    await before;
  });
});
