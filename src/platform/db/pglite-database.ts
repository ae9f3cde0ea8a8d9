import { PGlite, type Transaction } from "@electric-sql/pglite";
import {
  closableTransactionHandle,
  type Database,
  OwnTransactionGuard,
  ROW_VALUE_PARSERS,
  type Row,
  SESSION_SETTINGS,
  type TransactionSql,
} from "./database.js";

export interface PgliteDatabaseOptions {
  /** Directory holding the data files; undefined keeps the database in memory. */
  readonly dataDir?: string;
  readonly name: string;
}

/** Durability (below) depends on synchronous_commit=on, so it is pinned rather than inherited.
 * Servers are left alone: their operators may run a stronger level such as remote_apply. */
const PGLITE_SESSION_SETTINGS: Readonly<Record<string, string>> = {
  ...SESSION_SETTINGS,
  synchronous_commit: "on",
};

/**
 * Embedded PostgreSQL (PGlite, Postgres compiled to WASM) behind the Database port.
 *
 * Durability: with a dataDir, PGlite mounts it through Emscripten's NODEFS, whose writes are
 * synchronous `fs.writeSync` calls on the real files, and with synchronous_commit=on Postgres
 * writes the commit's WAL record before COMMIT returns. A committed transaction therefore
 * survives kill -9 of this process (test/platform/db/pglite-kill.test.ts checks it). We pin
 * synchronous_commit=on for the session: with it off, a killed process loses its recent commits
 * (single-user Postgres has no WAL writer to flush them), even the tables created at start-up.
 * It does NOT survive an OS crash or power loss: PGlite starts Postgres with `-F` (fsync=off), and
 * even without that its fsync/fdatasync are no-ops under NODEFS, so the kernel decides when data
 * reaches the disk. `relaxedDurability` stays false (its default); it only matters for file
 * systems that PGlite syncs itself after each query (IndexedDB), not NODEFS.
 *
 * PGlite is a single session: PGlite itself serialises queries and transactions, so concurrent
 * `transaction` calls queue and never interleave.
 */
export async function openPgliteDatabase(options: PgliteDatabaseOptions): Promise<Database> {
  const { dataDir, name } = options;
  let pglite: PGlite;
  try {
    pglite = await PGlite.create({
      dataDir,
      parsers: ROW_VALUE_PARSERS,
      relaxedDurability: false,
    });
  } catch (error) {
    const where = dataDir === undefined ? "in memory" : `on ${dataDir}`;
    throw new Error(`${name}: cannot open PGlite ${where}: ${errorMessage(error)}`, { cause: error });
  }
  try {
    for (const [setting, value] of Object.entries(PGLITE_SESSION_SETTINGS)) {
      await pglite.query("SELECT set_config($1, $2, false)", [setting, value]);
    }
  } catch (error) {
    await pglite.close();
    throw error;
  }
  return new PgliteDatabase(name, pglite);
}

class PgliteDatabase implements Database {
  private readonly ownTransaction: OwnTransactionGuard;
  private closing: Promise<void> | undefined;
  readonly singleSession = true;

  constructor(
    readonly name: string,
    private readonly pglite: PGlite,
  ) {
    this.ownTransaction = new OwnTransactionGuard(name);
  }

  async query<R extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    this.ownTransaction.assertOutside("query");
    const result = await this.pglite.query<R>(text, [...params]);
    return result.rows;
  }

  async exec(script: string): Promise<void> {
    this.ownTransaction.assertOutside("exec");
    await this.pglite.exec(script);
  }

  async transaction<T>(work: (tx: TransactionSql) => Promise<T>): Promise<T> {
    this.ownTransaction.assertOutside("transaction");
    // PGlite's own transaction() issues BEGIN, COMMIT (throwing if Postgres rolled back instead)
    // or ROLLBACK on throw, and holds its transaction mutex throughout.
    return this.pglite.transaction(async (pgliteTx) => {
      const { handle, finish } = closableTransactionHandle(this.name, wrapTransaction(pgliteTx));
      try {
        return await this.ownTransaction.run(() => work(handle));
      } finally {
        finish();
      }
    });
  }

  close(): Promise<void> {
    this.closing ??= this.pglite.close();
    return this.closing;
  }
}

function wrapTransaction(pgliteTx: Transaction): TransactionSql {
  return {
    async query<R extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<R[]> {
      const result = await pgliteTx.query<R>(text, [...params]);
      return result.rows;
    },
    async exec(script: string): Promise<void> {
      await pgliteTx.exec(script);
    },
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
