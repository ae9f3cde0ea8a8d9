// Issue 16, defect 6: the retried L2 delete did not publish an invalidation, so a process that
// read the old entry from L2 before the retry landed kept it in its L1.
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cache } from "../../../src/platform/cache/cache.js";
import type { InvalidationBus } from "../../../src/platform/cache/invalidation-bus.js";
import { serverAvailable, servers } from "../../support/infra.js";
import {
  type CatalogDatabase,
  openCatalogDatabase,
  openReplica,
  type Replica,
  sleep,
  versionOf,
} from "./fixtures/catalog-replicas.js";

/** A network cut between one process and Redis: while `cut`, its calls fail as they would. */
class Cut {
  cut = false;
  check(): void {
    if (this.cut) throw new Error("connection to the cache lost (test)");
  }

  l2(inner: Cache): Cache {
    // Every call on the port, whatever it is named, fails while cut.
    return new Proxy(inner, {
      get: (target, property, receiver) => {
        const member = Reflect.get(target, property, receiver) as unknown;
        if (typeof member !== "function" || property === "close") return member;
        return async (...args: unknown[]) => {
          this.check();
          return (member as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }

  bus(inner: InvalidationBus): InvalidationBus {
    return {
      publish: async (...args: Parameters<InvalidationBus["publish"]>) => {
        this.check();
        return inner.publish(...args);
      },
      subscribe: (handler) => inner.subscribe(handler),
      close: () => inner.close(),
    };
  }
}

describe("an invalidation whose L2 write failed and landed on a retry", async () => {
  const redisUp = await serverAvailable("redis");
  let catalog: CatalogDatabase;
  const replicas: Replica[] = [];
  let inspector: Redis | undefined;

  beforeAll(async () => {
    catalog = await openCatalogDatabase("retried-invalidation");
  });
  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.close()));
    await catalog?.close();
    inspector?.disconnect();
  });

  it.skipIf(!redisUp)("is published when it lands, so no process keeps the old entry", async () => {
    const prefix = `retried-${randomUUID().slice(0, 8)}:`;
    const redis = { url: servers.redis.url, prefix };
    inspector = new Redis(servers.redis.url);
    const cut = new Cut();
    const writer = await openReplica(catalog.database, {
      redis,
      wrapL2: (l2) => cut.l2(l2),
      wrapBus: (bus) => cut.bus(bus),
    });
    replicas.push(writer);
    const product = await catalog.create(writer.reader, "RETRIED", 100);
    await sleep(600); // before, reads bypassed the cache for 500 ms after a write
    expect(versionOf(await writer.reader.jsonById(product.id))).toBe(1); // v1 now in L2
    const l2Key = `${prefix}catalog:product:{${product.id}}`;
    const entryBefore = await inspector.get(l2Key);
    expect(entryBefore).not.toBeNull();

    cut.cut = true;
    const updated = await catalog.store.update(product.id, { name: "p", priceCents: 200, currency: "EUR" });
    await writer.reader.invalidate(updated!); // neither the L2 write nor the message gets through

    // A process that reads now finds the old entry in L2 (as after a restore from a snapshot) and
    // keeps it in its L1. That is within the bound while the write is not in L2.
    const other = await openReplica(catalog.database, { redis, l1TtlMs: 5000 });
    replicas.push(other);
    expect(versionOf(await other.reader.jsonById(product.id))).toBe(1);
    await sleep(700); // long enough that what heals it is a retry, not a scheduled second attempt

    cut.cut = false;
    const deadline = Date.now() + 3000;
    while ((await inspector.get(l2Key)) === entryBefore) {
      if (Date.now() > deadline) throw new Error("the retried invalidation never reached L2");
      await sleep(20);
    }
    await sleep(150); // pub/sub delivery

    expect(versionOf(await other.reader.jsonById(product.id))).toBe(2);
  });
});
