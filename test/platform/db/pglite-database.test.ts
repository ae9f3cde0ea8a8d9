import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";
import { describeDatabaseConformance } from "./database-conformance.js";

let tempRoot: string;

beforeAll(async () => {
  tempRoot = await mkdtemp(join(tmpdir(), "floodgate-pglite-"));
});

afterAll(async () => {
  await rm(tempRoot, { recursive: true, force: true });
});

describeDatabaseConformance("PGlite in memory", () => openPgliteDatabase({ name: "pglite-memory" }), {
  singleSession: true,
});

describeDatabaseConformance(
  "PGlite on disk",
  () => openPgliteDatabase({ dataDir: join(tempRoot, "conformance"), name: "pglite-disk" }),
  { singleSession: true },
);

describe("PGlite on disk", () => {
  it("keeps committed data across close and reopen", async () => {
    const dataDir = join(tempRoot, "reopen");
    const first = await openPgliteDatabase({ dataDir, name: "pglite-reopen" });
    await first.exec("CREATE TABLE kept (id int8 PRIMARY KEY)");
    await first.transaction((tx) => tx.query("INSERT INTO kept VALUES ($1)", ["9223372036854775807"]));
    await first.close();
    await first.close(); // idempotent

    const second = await openPgliteDatabase({ dataDir, name: "pglite-reopen" });
    try {
      expect(await second.query("SELECT id FROM kept")).toEqual([{ id: "9223372036854775807" }]);
      expect(await second.query("SHOW synchronous_commit")).toEqual([{ synchronous_commit: "on" }]);
    } finally {
      await second.close();
    }
  });
});
