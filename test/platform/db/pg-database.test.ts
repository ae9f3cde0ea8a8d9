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
