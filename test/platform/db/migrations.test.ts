import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../../src/platform/db/database.js";
import { runMigrations } from "../../../src/platform/db/migrations.js";
import { openPgDatabase } from "../../../src/platform/db/pg-database.js";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";
import { serverAvailable } from "../../support/infra.js";
import {
  createScratchPostgresDatabase,
  type ScratchPostgresDatabase,
} from "../../support/scratch-postgres.js";

// Throws (failing this file) when the server is down and FLOODGATE_REQUIRE_INFRA=1.
const postgresUp = await serverAvailable("postgres");

let tempRoot: string;
let dirCounter = 0;

/** Writes `files` into a new migrations directory and returns its path. */
async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = join(tempRoot, `migrations-${++dirCounter}`);
  await mkdir(dir);
  for (const [file, sql] of Object.entries(files)) await writeFile(join(dir, file), sql);
  return dir;
}

beforeAll(async () => {
  tempRoot = await mkdtemp(join(tmpdir(), "floodgate-migrations-"));
});

afterAll(async () => {
  await rm(tempRoot, { recursive: true, force: true });
});

describe("runMigrations on PGlite", () => {
  // One PGlite for the file (each start costs seconds); every test migrates its own service schema.
  let db: Database;

  beforeAll(async () => {
    db = await openPgliteDatabase({ name: "migrations-pglite" });
  });

  afterAll(async () => {
    await db?.close();
  });

  it("applies migrations in version order, each recorded once", async () => {
    const dir = await migrationsDir({
      // 010 sorts after 002 numerically and only works if 001 and 002 ran first.
      "010_seed.sql": "INSERT INTO ordered.items (id, label) VALUES (1, 'first');",
      "002_label.sql": "ALTER TABLE ordered.items ADD COLUMN label text;",
      "001_items.sql":
        "CREATE TABLE ordered.items (id int PRIMARY KEY);\nCREATE INDEX items_id ON ordered.items (id);",
      "README.md": "not a migration",
    });
    const log: string[] = [];
    const applied = await runMigrations(db, "ordered", dir, (msg) => log.push(msg));

    expect(applied.map((migration) => migration.file)).toEqual([
      "001_items.sql",
      "002_label.sql",
      "010_seed.sql",
    ]);
    expect(applied.map((migration) => migration.version)).toEqual([1, 2, 10]);
    expect(applied.every((migration) => /^[0-9a-f]{64}$/.test(migration.checksum))).toBe(true);
    expect(log).toHaveLength(3);
    expect(await db.query("SELECT id, label FROM ordered.items")).toEqual([{ id: 1, label: "first" }]);
    const recorded = await db.query<{ version: number; name: string; applied_at: string }>(
      "SELECT version, name, applied_at FROM ordered.schema_migrations ORDER BY version",
    );
    expect(recorded.map(({ version, name }) => ({ version, name }))).toEqual([
      { version: 1, name: "items" },
      { version: 2, name: "label" },
      { version: 10, name: "seed" },
    ]);
    expect(recorded.every((row) => typeof row.applied_at === "string")).toBe(true);
  });

  it("is idempotent: a rerun applies nothing and changes nothing", async () => {
    const dir = await migrationsDir({
      "001_counter.sql": "CREATE TABLE rerun.counter (n int); INSERT INTO rerun.counter VALUES (1);",
    });
    expect(await runMigrations(db, "rerun", dir)).toHaveLength(1);
    expect(await runMigrations(db, "rerun", dir)).toEqual([]);
    expect(await runMigrations(db, "rerun", dir)).toEqual([]);
    expect(await db.query("SELECT n FROM rerun.counter")).toEqual([{ n: 1 }]);
  });

  it("applies only the new migrations when more are added", async () => {
    const files = { "001_a.sql": "CREATE TABLE grow.a (id int);" };
    const dir = await migrationsDir(files);
    await runMigrations(db, "grow", dir);
    await writeFile(join(dir, "002_b.sql"), "CREATE TABLE grow.b (id int);");
    const applied = await runMigrations(db, "grow", dir);
    expect(applied.map((migration) => migration.file)).toEqual(["002_b.sql"]);
  });

  it("refuses to run when an applied migration's file changed, naming the file, and applies nothing", async () => {
    const dir = await migrationsDir({ "001_table.sql": "CREATE TABLE edited.t (id int);" });
    await runMigrations(db, "edited", dir);
    await writeFile(join(dir, "001_table.sql"), "CREATE TABLE edited.t (id int, extra text);");
    await writeFile(join(dir, "002_more.sql"), "CREATE TABLE edited.more (id int);");

    await expect(runMigrations(db, "edited", dir)).rejects.toThrow(
      /001_table\.sql was changed after it was applied/,
    );
    const [more] = await db.query<{ exists: boolean }>(
      "SELECT to_regclass('edited.more') IS NOT NULL AS exists",
    );
    expect(more?.exists).toBe(false);
  });

  it("treats CRLF and LF line endings as the same file", async () => {
    const dir = await migrationsDir({ "001_lines.sql": "CREATE TABLE endings.t (\n  id int\n);\n" });
    await runMigrations(db, "endings", dir);
    await writeFile(join(dir, "001_lines.sql"), "CREATE TABLE endings.t (\r\n  id int\r\n);\r\n");
    expect(await runMigrations(db, "endings", dir)).toEqual([]);
  });

  it("rolls back and does not record a failing migration, naming it in the error", async () => {
    const dir = await migrationsDir({
      "001_ok.sql": "CREATE TABLE failing.ok (id int);",
      "002_broken.sql": "CREATE TABLE failing.half (id int); SELECT no_such_function();",
    });
    await expect(runMigrations(db, "failing", dir)).rejects.toThrow(
      /failing migration 002_broken\.sql failed/,
    );
    const versions = await db.query("SELECT version FROM failing.schema_migrations");
    expect(versions).toEqual([{ version: 1 }]);
    const [half] = await db.query<{ exists: boolean }>(
      "SELECT to_regclass('failing.half') IS NOT NULL AS exists",
    );
    expect(half?.exists).toBe(false);
  });

  it("keeps each service in its own schema, unqualified names included", async () => {
    // The same file for two services: unqualified names resolve to each service's schema.
    const sql = "CREATE TABLE items (id int PRIMARY KEY, owner text NOT NULL);";
    const alphaDir = await migrationsDir({ "001_items.sql": sql });
    const betaDir = await migrationsDir({
      "001_items.sql": sql,
      "002_seed.sql": "INSERT INTO items VALUES (1, 'beta');",
    });
    expect(await runMigrations(db, "alpha", alphaDir)).toHaveLength(1);
    expect(await runMigrations(db, "beta", betaDir)).toHaveLength(2);

    expect(await db.query("SELECT * FROM alpha.items")).toEqual([]);
    expect(await db.query("SELECT * FROM beta.items")).toEqual([{ id: 1, owner: "beta" }]);
    expect(await db.query("SELECT version FROM alpha.schema_migrations")).toEqual([{ version: 1 }]);
    expect(await db.query("SELECT version FROM beta.schema_migrations ORDER BY version")).toEqual([
      { version: 1 },
      { version: 2 },
    ]);
    const [inPublic] = await db.query<{ exists: boolean }>(
      "SELECT to_regclass('public.items') IS NOT NULL AS exists",
    );
    expect(inPublic?.exists).toBe(false);
  });

  it("serialises concurrent runners on one PGlite (pg_advisory_xact_lock works there)", async () => {
    const dir = await migrationsDir({
      "001_log.sql": "CREATE TABLE racing.log (migration int);",
      "002_first.sql": "INSERT INTO racing.log VALUES (2);",
      "003_second.sql": "INSERT INTO racing.log VALUES (3);",
    });
    const runs = await Promise.all([1, 2, 3].map(() => runMigrations(db, "racing", dir)));
    expect(
      runs
        .flat()
        .map((migration) => migration.version)
        .sort(),
    ).toEqual([1, 2, 3]);
    expect(await db.query("SELECT migration FROM racing.log ORDER BY migration")).toEqual([
      { migration: 2 },
      { migration: 3 },
    ]);
  });

  it("rejects service names that are not plain identifiers", async () => {
    const dir = await migrationsDir({ "001_x.sql": "SELECT 1;" });
    for (const bad of ["Orders", "orders-v2", "1orders", "orders; DROP SCHEMA public", '"orders"', ""]) {
      await expect(runMigrations(db, bad, dir)).rejects.toThrow(/invalid service name/);
    }
  });

  it("rejects misnamed .sql files and duplicate versions instead of skipping them", async () => {
    const misnamed = await migrationsDir({ "001_ok.sql": "SELECT 1;", "2_short.sql": "SELECT 1;" });
    await expect(runMigrations(db, "misnamed", misnamed)).rejects.toThrow(
      /2_short\.sql: migration files must be named/,
    );
    const duplicate = await migrationsDir({ "001_a.sql": "SELECT 1;", "001_b.sql": "SELECT 1;" });
    await expect(runMigrations(db, "duplicate", duplicate)).rejects.toThrow(/001_a\.sql and 001_b\.sql/);
    await expect(runMigrations(db, "missing", join(tempRoot, "no-such-dir"))).rejects.toThrow(
      /cannot read migrations directory/,
    );
  });
});

describe.skipIf(!postgresUp)("runMigrations on a PostgreSQL server", () => {
  let scratch: ScratchPostgresDatabase;
  const opened: Database[] = [];

  async function open(name: string): Promise<Database> {
    const db = await openPgDatabase({ url: scratch.url, name, poolSize: 2 });
    opened.push(db);
    return db;
  }

  beforeAll(async () => {
    scratch = await createScratchPostgresDatabase();
  });

  afterAll(async () => {
    await Promise.all(opened.map((db) => db.close()));
    await scratch?.drop();
  });

  it("applies each migration exactly once when several processes migrate at the same moment", async () => {
    // Statements that fail or double up if run twice: CREATE TABLE without IF NOT EXISTS, inserts.
    const files: Record<string, string> = {
      "001_log.sql":
        "CREATE TABLE racing.log (migration int NOT NULL, at timestamptz DEFAULT clock_timestamp());",
    };
    for (let version = 2; version <= 6; version++) {
      files[`${String(version).padStart(3, "0")}_step.sql`] =
        `CREATE TABLE racing.step_${version} (id int); INSERT INTO racing.log (migration) VALUES (${version}); SELECT pg_sleep(0.02);`;
    }
    const dir = await migrationsDir(files);
    // Separate pools stand in for separate processes: each runner has its own sessions.
    const runners = await Promise.all([1, 2, 3, 4].map((index) => open(`runner-${index}`)));
    const runs = await Promise.all(runners.map((db) => runMigrations(db, "racing", dir)));

    const appliedVersions = runs.flat().map((migration) => migration.version);
    expect(appliedVersions.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    const db = runners[0]!;
    expect(await db.query("SELECT migration FROM racing.log ORDER BY migration")).toEqual(
      [2, 3, 4, 5, 6].map((migration) => ({ migration })),
    );
    expect(await db.query("SELECT count(*)::int AS n FROM racing.schema_migrations")).toEqual([{ n: 6 }]);
  });

  it("keeps per-service schemas separate on the server too", async () => {
    const db = await open("schemas");
    const dir = await migrationsDir({ "001_items.sql": "CREATE TABLE items (id int);" });
    await runMigrations(db, "svc_one", dir);
    await runMigrations(db, "svc_two", dir);
    const tables = await db.query<{ table_schema: string }>(
      "SELECT table_schema FROM information_schema.tables WHERE table_name = 'items' ORDER BY table_schema",
    );
    expect(tables.map((table) => table.table_schema)).toEqual(["svc_one", "svc_two"]);
  });
});
