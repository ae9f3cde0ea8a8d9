import pg from "pg";

export interface FreshDatabases {
  /** The URLs to use instead: one new, empty database on each server given. */
  readonly urls: readonly string[];
  /** Drops them (best effort: errors are returned, not thrown). */
  drop(): Promise<string[]>;
}

/**
 * A run on PostgreSQL must not see another run's orders, emails or parcels (nor those of tests
 * sharing the server): for each URL of FLOODGATE_DATABASE_URLS it creates a database of its own,
 * `<database>_lc_<tag>_<i>`, on that server, and drops it after the run.
 */
export async function createFreshDatabases(urls: readonly string[], tag: string): Promise<FreshDatabases> {
  const created: { admin: string; name: string }[] = [];
  const fresh: string[] = [];
  const drop = async () => {
    const errors: string[] = [];
    for (const { admin, name } of created.reverse()) {
      const client = new pg.Client({ connectionString: admin });
      try {
        await client.connect();
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } catch (error) {
        errors.push(`${name}: ${(error as Error).message}`);
      } finally {
        await client.end().catch(() => {});
      }
    }
    return errors;
  };
  try {
    for (const [i, url] of urls.entries()) {
      const parsed = new URL(url);
      const base = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "postgres";
      const name = `${base}_lc_${tag}_${i}`.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 63);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      created.push({ admin: url, name });
      parsed.pathname = `/${name}`;
      fresh.push(parsed.toString());
    }
  } catch (error) {
    await drop();
    throw error;
  }
  return { urls: fresh, drop };
}
