import { afterAll, describe, expect, it } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import { runMigrations } from "../../../src/platform/db/migrations.js";
import { openPgDatabase } from "../../../src/platform/db/pg-database.js";
import { inventoryService } from "../../../src/services/inventory/index.js";
import { WriterLease } from "../../../src/services/inventory/writer-lease.js";
import { serverAvailable } from "../../support/infra.js";
import {
  createScratchPostgresDatabase,
  type ScratchPostgresDatabase,
} from "../../support/scratch-postgres.js";

describe("inventory writer lease on a shared database", async () => {
  const up = await serverAvailable("postgres");
  let scratch: ScratchPostgresDatabase | undefined;
  const opened: Database[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((db) => db.close()));
    await scratch?.drop();
  });

  it.skipIf(!up)("lets one process hold it, refuses a second, and hands it over once released", async () => {
    scratch = await createScratchPostgresDatabase();
    const [a, b] = await Promise.all([0, 1].map((i) => openPgDatabase({ url: scratch!.url, name: `p${i}` })));
    opened.push(a!, b!);
    await runMigrations(a!, "inventory", inventoryService.migrationsDir);
    const first = new WriterLease(a!);
    const second = new WriterLease(b!);
    await first.acquire(0);
    await expect(second.acquire(0)).rejects.toThrow(/holds this database's writer lease/);
    expect(first.held).toBe(true);
    await first.release();
    await second.acquire(0);
    expect(second.held).toBe(true);
    await second.release();
  });
});
