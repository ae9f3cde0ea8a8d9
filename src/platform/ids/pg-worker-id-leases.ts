import { fileURLToPath } from "node:url";
import type { Database } from "../db/database.js";
import { runMigrations } from "../db/migrations.js";
import type { AcquiredWorkerId, WorkerIdLeases } from "./worker-id-leases.js";

/** The platform-owned schema the lease table lives in (on the primary database). */
export const WORKER_ID_LEASES_SCHEMA = "platform_ids";
const MIGRATIONS_DIR = fileURLToPath(new URL("./migrations", import.meta.url));
/** Interpolated as an SQL identifier, hence this strict shape. */
const SCHEMA_NAME = /^[a-z][a-z0-9_]*$/;

export interface PgWorkerIdLeasesOptions {
  /** Default `platform_ids`; tests use a schema of their own. */
  readonly schema?: string;
  /** Migration progress. */
  readonly log?: (message: string) => void;
}

/**
 * Worker-id leases as rows of `<schema>.worker_id_leases`, one per id. Expiry is judged by the
 * database's clock (`now()`), so the processes' clocks need not agree. Taking an id is one UPDATE
 * that locks the lowest free row (`FOR UPDATE SKIP LOCKED`): concurrent takers get different rows.
 * Renewing and releasing match on the holder, so a process whose lease was taken over changes
 * nothing.
 */
export class PgWorkerIdLeases implements WorkerIdLeases {
  readonly where: string;
  private readonly table: string;

  /** Applies the lease table's migration (once per database), then serves leases from it. */
  static async open(db: Database, options: PgWorkerIdLeasesOptions = {}): Promise<PgWorkerIdLeases> {
    const schema = options.schema ?? WORKER_ID_LEASES_SCHEMA;
    await runMigrations(db, schema, MIGRATIONS_DIR, options.log);
    return new PgWorkerIdLeases(db, schema);
  }

  private constructor(
    private readonly db: Database,
    schema: string,
  ) {
    if (!SCHEMA_NAME.test(schema)) throw new Error(`invalid schema name ${JSON.stringify(schema)}`);
    this.table = `${schema}.worker_id_leases`;
    this.where = `PostgreSQL ${db.name} (${this.table})`;
  }

  async acquire(holder: string, ttlMs: number): Promise<AcquiredWorkerId | undefined> {
    const [row] = await this.db.query<{ worker_id: number; minted_until_ms: string | null }>(
      `UPDATE ${this.table} SET holder = $1, expires_at = now() + make_interval(secs => $2)
       WHERE worker_id = (
         SELECT worker_id FROM ${this.table}
         WHERE holder IS NULL OR expires_at <= now()
         ORDER BY worker_id
         LIMIT 1
         FOR UPDATE SKIP LOCKED
       )
       RETURNING worker_id, minted_until_ms`,
      [holder, ttlMs / 1000],
    );
    if (!row) return undefined;
    return {
      workerId: row.worker_id,
      previousMintedUntilMs: row.minted_until_ms === null ? undefined : Number(row.minted_until_ms),
    };
  }

  async renew(workerId: number, holder: string, ttlMs: number, mintedUntilMs: number): Promise<boolean> {
    // No expiry check: a row that still names this holder was never given to anyone else, even if
    // it expired while the database was out of reach.
    const rows = await this.db.query(
      `UPDATE ${this.table} SET expires_at = now() + make_interval(secs => $3), minted_until_ms = $4
       WHERE worker_id = $1 AND holder = $2
       RETURNING worker_id`,
      [workerId, holder, ttlMs / 1000, wholeMs(mintedUntilMs)],
    );
    return rows.length === 1;
  }

  async release(workerId: number, holder: string, mintedUntilMs: number): Promise<void> {
    await this.db.query(
      `UPDATE ${this.table} SET holder = NULL, expires_at = NULL, minted_until_ms = $3
       WHERE worker_id = $1 AND holder = $2`,
      [workerId, holder, wholeMs(mintedUntilMs)],
    );
  }

  async close(): Promise<void> {
    // The database belongs to the runtime, which closes it.
  }
}

/** int8 parameters go as strings (the Database port's rule); rounded up, the bound stays a bound. */
function wholeMs(ms: number): string {
  return String(Math.ceil(ms));
}
