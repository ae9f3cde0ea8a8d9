import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import { openPgDatabase } from "../../../src/platform/db/pg-database.js";
import { PgWorkerIdLeases } from "../../../src/platform/ids/pg-worker-id-leases.js";
import { serverAvailable, servers } from "../../support/infra.js";
import { describeWorkerIdLeasesConformance } from "./worker-id-leases-conformance.js";

const postgresUp = await serverAvailable("postgres");

describe.skipIf(!postgresUp)("PostgreSQL (shared, 127.0.0.1:5432)", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openPgDatabase({ url: servers.postgres.url, name: "ids-test", poolSize: 8 });
  });
  afterAll(async () => {
    await db?.close();
  });

  // A schema of its own per test, dropped afterwards: test files share the server.
  describeWorkerIdLeasesConformance("pg", async () => {
    const schema = `ids_t_${randomBytes(5).toString("hex")}`;
    return {
      open: () => PgWorkerIdLeases.open(db, { schema }),
      remove: async () => {
        await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      },
    };
  });
});
