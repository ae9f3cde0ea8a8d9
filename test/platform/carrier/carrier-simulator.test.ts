import { describe } from "vitest";
import { CarrierSimulator } from "../../../src/platform/carrier/carrier-simulator.js";
import type { Database } from "../../../src/platform/db/database.js";
import { openPgDatabase } from "../../../src/platform/db/pg-database.js";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";
import { serverAvailable } from "../../support/infra.js";
import { createScratchPostgresDatabase } from "../../support/scratch-postgres.js";
import { describeCarrierConformance } from "./carrier-conformance.js";

/** Every carrier of one fixture shares its database: the simulator's books. */
function fixtureOn(db: Database, drop: () => Promise<void> = async () => {}) {
  return {
    open: (deliverySeconds: number) => CarrierSimulator.open(db, { deliverySeconds }),
    close: async () => {
      await db.close();
      await drop();
    },
  };
}

describeCarrierConformance("simulator on PGlite", async () =>
  fixtureOn(await openPgliteDatabase({ name: "carrier-pglite" })),
);

describe.skipIf(!(await serverAvailable("postgres")))("on PostgreSQL", () => {
  describeCarrierConformance("simulator on PostgreSQL", async () => {
    const scratch = await createScratchPostgresDatabase();
    return fixtureOn(
      await openPgDatabase({ url: scratch.url, name: "carrier-pg", poolSize: 8 }),
      scratch.drop,
    );
  });
});
