import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Database, TransactionSql } from "./database.js";

/**
 * Schema migrations, per service: `<migrationsDir>/NNN_name.sql` files applied in version order,
 * each in its own transaction together with its row in `<service>.schema_migrations`, so a
 * migration is either fully applied and recorded or not at all.
 *
 * - Runners on the same database (several processes starting at once) are serialised by a
 *   transaction-scoped advisory lock, and each re-checks under the lock whether the migration it is
 *   about to apply is already recorded, so every migration runs exactly once.
 * - An applied migration whose file has changed since (checksum mismatch) stops the runner before
 *   it applies anything: the database no longer matches what the code says it is.
 * - An applied migration with no file left is only logged: an older build may be started against a
 *   database that a newer one already migrated (a rollback), and its migrations are additive.
 * - Unqualified names in a migration resolve to the service's schema first (search_path).
 * - A migration file must not contain transaction control (BEGIN/COMMIT) nor statements that
 *   cannot run inside a transaction (CREATE INDEX CONCURRENTLY, VACUUM).
 */

export interface AppliedMigration {
  readonly version: number;
  readonly name: string;
  /** The file name, e.g. `001_orders.sql`. */
  readonly file: string;
  /** sha256 (hex) of the file with line endings normalised to \n. */
  readonly checksum: string;
}

/** Interpolated as an SQL identifier, hence this strict shape (no quoting tricks possible). */
const SERVICE_NAME = /^[a-z][a-z0-9_]*$/;
const MIGRATION_FILE = /^(\d{3})_([A-Za-z0-9_-]+)\.sql$/;
/** One lock for all services' migrations on a database: they may share objects (extensions). */
const MIGRATION_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended('floodgate.schema_migrations', 0))";

/**
 * Waits for the lock however long another runner's migration takes: the sessions' lock_timeout
 * (see pg-database.ts) is for request paths, not for a migration queued behind another.
 */
async function takeMigrationLock(tx: TransactionSql): Promise<void> {
  await tx.query("SET LOCAL lock_timeout = 0");
  await tx.query(MIGRATION_LOCK_SQL);
}

export async function runMigrations(
  db: Database,
  service: string,
  migrationsDir: string,
  log: (msg: string) => void = () => {},
): Promise<AppliedMigration[]> {
  if (!SERVICE_NAME.test(service)) {
    throw new Error(`invalid service name ${JSON.stringify(service)}: must match ${SERVICE_NAME}`);
  }
  const migrations = await readMigrations(migrationsDir);
  const table = `${service}.schema_migrations`;

  const alreadyApplied = await db.transaction(async (tx) => {
    await takeMigrationLock(tx);
    // Under the lock: concurrent CREATE … IF NOT EXISTS on the same name can still collide.
    await tx.query(`CREATE SCHEMA IF NOT EXISTS ${service}`);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS ${table} (
         version    integer PRIMARY KEY,
         name       text NOT NULL,
         checksum   text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    return tx.query<{ version: number; name: string; checksum: string }>(
      `SELECT version, name, checksum FROM ${table} ORDER BY version`,
    );
  });

  const byVersion = new Map(migrations.map((migration) => [migration.version, migration]));
  for (const applied of alreadyApplied) {
    const migration = byVersion.get(applied.version);
    if (!migration) {
      log(
        `${db.name}: ${service} migration ${applied.version} (${applied.name}) is applied but has no file here`,
      );
      continue;
    }
    assertUnchanged(db, service, migration, applied.checksum, migrationsDir);
  }

  const appliedVersions = new Set(alreadyApplied.map((applied) => applied.version));
  const appliedNow: AppliedMigration[] = [];
  for (const migration of migrations) {
    if (appliedVersions.has(migration.version)) continue;
    const applied = await db.transaction(async (tx) => {
      await takeMigrationLock(tx);
      // Another runner may have applied it while we waited for the lock.
      const [recorded] = await tx.query<{ checksum: string }>(
        `SELECT checksum FROM ${table} WHERE version = $1`,
        [migration.version],
      );
      if (recorded) {
        assertUnchanged(db, service, migration, recorded.checksum, migrationsDir);
        return false;
      }
      await applyMigration(tx, db, service, migration);
      await tx.query(`INSERT INTO ${table} (version, name, checksum) VALUES ($1, $2, $3)`, [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
      return true;
    });
    if (applied) {
      const { version, name, file, checksum } = migration;
      appliedNow.push({ version, name, file, checksum });
      log(`${db.name}: applied ${service} migration ${migration.file}`);
    }
  }
  return appliedNow;
}

interface MigrationFile extends AppliedMigration {
  readonly sql: string;
}

async function readMigrations(migrationsDir: string): Promise<MigrationFile[]> {
  let entries: string[];
  try {
    entries = await readdir(migrationsDir);
  } catch (error) {
    throw new Error(`cannot read migrations directory ${migrationsDir}: ${messageOf(error)}`, {
      cause: error,
    });
  }
  const migrations: MigrationFile[] = [];
  for (const file of entries.filter((entry) => entry.endsWith(".sql")).sort()) {
    const match = MIGRATION_FILE.exec(file);
    // A misnamed file would otherwise be skipped silently and its schema change never applied.
    if (!match) throw new Error(`${join(migrationsDir, file)}: migration files must be named NNN_name.sql`);
    const sql = (await readFile(join(migrationsDir, file), "utf8")).replaceAll("\r\n", "\n");
    migrations.push({
      version: Number(match[1]),
      name: match[2]!,
      file,
      checksum: createHash("sha256").update(sql).digest("hex"),
      sql,
    });
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let index = 1; index < migrations.length; index++) {
    const previous = migrations[index - 1]!;
    const current = migrations[index]!;
    if (previous.version === current.version) {
      throw new Error(`${migrationsDir}: ${previous.file} and ${current.file} have the same version`);
    }
  }
  return migrations;
}

async function applyMigration(
  tx: TransactionSql,
  db: Database,
  service: string,
  migration: MigrationFile,
): Promise<void> {
  await tx.query("SELECT set_config('search_path', $1, true)", [`${service}, public`]);
  try {
    await tx.exec(migration.sql);
  } catch (error) {
    throw new Error(`${db.name}: ${service} migration ${migration.file} failed: ${messageOf(error)}`, {
      cause: error,
    });
  }
}

function assertUnchanged(
  db: Database,
  service: string,
  migration: MigrationFile,
  recordedChecksum: string,
  migrationsDir: string,
): void {
  if (recordedChecksum !== migration.checksum) {
    throw new Error(
      `${db.name}: ${service} migration ${join(migrationsDir, migration.file)} was changed after it was applied ` +
        `(checksum ${migration.checksum}, applied ${recordedChecksum}); add a new migration instead of editing it`,
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
