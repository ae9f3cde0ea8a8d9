import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPgDatabase } from "../../../src/platform/db/pg-database.js";
import { serverAvailable } from "../../support/infra.js";
import {
  createScratchPostgresDatabase,
  type ScratchPostgresDatabase,
} from "../../support/scratch-postgres.js";
import { describeDatabaseConformance } from "./database-conformance.js";

// Throws (failing this file) when the server is down and FLOODGATE_REQUIRE_INFRA=1.
const postgresUp = await serverAvailable("postgres");

describe.skipIf(!postgresUp)("PostgreSQL server", () => {
  let scratch: ScratchPostgresDatabase;

  beforeAll(async () => {
    scratch = await createScratchPostgresDatabase();
  });

  afterAll(async () => {
    await scratch?.drop();
  });

  describeDatabaseConformance(
    "pg",
    () => openPgDatabase({ url: scratch.url, name: "pg-conformance", poolSize: 4 }),
    {
      singleSession: false,
    },
  );
});

describe("openPgDatabase errors", () => {
  it("names host, port, database and user when it cannot connect, never the password", async () => {
    const opening = openPgDatabase({ url: "postgres://alice:s3cr3t-pw@127.0.0.1:1/shop", name: "shard-7" });
    await expect(opening).rejects.toThrow(
      /^shard-7: cannot connect to PostgreSQL at 127\.0\.0\.1:1\/shop as alice: /,
    );
    await expect(opening).rejects.not.toThrow(/s3cr3t-pw/);
  });

  it("does not echo an unparseable URL, which may hold a password", async () => {
    const opening = openPgDatabase({ url: "postgres://alice:s3cr3t-pw@[bad/shop", name: "shard-7" });
    await expect(opening).rejects.toThrow(/not a valid URL/);
    await expect(opening).rejects.not.toThrow(/s3cr3t-pw/);
  });
});

describe.skipIf(!postgresUp)("a session that stalls while holding locks", () => {
  let scratch: ScratchPostgresDatabase;
  beforeAll(async () => {
    scratch = await createScratchPostgresDatabase();
  });
  afterAll(async () => {
    await scratch?.drop();
  });

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it("has a lock timeout and an idle-in-transaction timeout on every session by default", async () => {
    const db = await openPgDatabase({ url: scratch.url, name: "pg-timeouts", poolSize: 1 });
    try {
      expect(await db.query("SHOW lock_timeout")).toEqual([{ lock_timeout: "5s" }]);
      expect(await db.query("SHOW idle_in_transaction_session_timeout")).toEqual([
        { idle_in_transaction_session_timeout: "30s" },
      ]);
    } finally {
      await db.close();
    }
  });

  it("is ended by the server, so the rows it locked go to the next taker before it wakes", async () => {
    const holder = await openPgDatabase({
      url: scratch.url,
      name: "pg-stalled-holder",
      poolSize: 1,
      idleInTransactionTimeoutMs: 500,
    });
    const taker = await openPgDatabase({
      url: scratch.url,
      name: "pg-taker",
      poolSize: 1,
      lockTimeoutMs: 20_000,
    });
    try {
      await taker.query("CREATE TABLE stock_row (sku text PRIMARY KEY, held int NOT NULL)");
      await taker.query("INSERT INTO stock_row VALUES ('S', 0)");
      let holderAwake = false;
      const stalled = holder.transaction(async (tx) => {
        await tx.query("SELECT held FROM stock_row WHERE sku = 'S' FOR UPDATE");
        await sleep(4_000); // a paused process: idle in its transaction, its lock held
        holderAwake = true;
        await tx.query("UPDATE stock_row SET held = held + 1 WHERE sku = 'S'");
      });
      stalled.catch(() => {});
      await sleep(100);
      await taker.transaction(async (tx) => {
        await tx.query("SELECT held FROM stock_row WHERE sku = 'S' FOR UPDATE");
        await tx.query("UPDATE stock_row SET held = held + 10 WHERE sku = 'S'");
      });
      // The taker got the row while the holder still slept; the holder's late write is refused.
      expect(holderAwake).toBe(false);
      await expect(stalled).rejects.toThrow();
      expect(await taker.query("SELECT held FROM stock_row")).toEqual([{ held: 10 }]);
    } finally {
      await holder.close().catch(() => {});
      await taker.close();
    }
  }, 30_000);

  it("makes a statement waiting on a held lock fail after the lock timeout instead of queueing", async () => {
    const holder = await openPgDatabase({ url: scratch.url, name: "pg-busy-holder", poolSize: 1 });
    const waiter = await openPgDatabase({
      url: scratch.url,
      name: "pg-waiter",
      poolSize: 1,
      lockTimeoutMs: 300,
    });
    try {
      await holder.query("CREATE TABLE busy_row (id int PRIMARY KEY)");
      await holder.query("INSERT INTO busy_row VALUES (1)");
      const busy = holder.transaction(async (tx) => {
        await tx.query("SELECT id FROM busy_row WHERE id = 1 FOR UPDATE");
        await tx.query("SELECT pg_sleep(2)"); // busy, not idle: only the waiter's timeout helps
      });
      await sleep(100);
      await expect(
        waiter.transaction((tx) => tx.query("SELECT id FROM busy_row WHERE id = 1 FOR UPDATE")),
      ).rejects.toThrow(/lock timeout/);
      await busy;
    } finally {
      await holder.close();
      await waiter.close();
    }
  }, 30_000);
});
