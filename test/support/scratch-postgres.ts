import { randomBytes } from "node:crypto";
import pg from "pg";
import { servers } from "./infra.js";

export interface ScratchPostgresDatabase {
  /** URL of the new, empty database. */
  readonly url: string;
  /** Drops the database, disconnecting whoever is still on it. */
  drop(): Promise<void>;
}

/**
 * A fresh database on the test server (`CREATE DATABASE floodgate_t_<random>`), so test files
 * running in parallel, and reruns after an interrupted run, never see each other's tables.
 */
export async function createScratchPostgresDatabase(): Promise<ScratchPostgresDatabase> {
  const name = `floodgate_t_${randomBytes(6).toString("hex")}`;
  await withAdminClient(async (admin) => {
    await admin.query(`CREATE DATABASE ${name}`);
  });
  const url = new URL(servers.postgres.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () =>
      withAdminClient(async (admin) => {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }),
  };
}

async function withAdminClient<T>(work: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: servers.postgres.url });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}
