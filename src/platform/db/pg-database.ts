import type { CustomTypesConfig, PoolClient, QueryConfig } from "pg";
import pg from "pg";
import {
  closableTransactionHandle,
  type Database,
  OwnTransactionGuard,
  ROW_VALUE_PARSERS,
  type Row,
  SESSION_SETTINGS,
  type TransactionSql,
} from "./database.js";

export interface PgDatabaseOptions {
  /** `postgres://user[:password]@host[:port]/database[?…]`. The password never reaches logs or errors. */
  readonly url: string;
  readonly name: string;
  /** Connections kept by the pool; default 10. */
  readonly poolSize?: number;
  /**
   * How long a statement waits for a lock before failing (PostgreSQL's lock_timeout); default 5 s.
   * A request path fails and is retried instead of queueing behind a stalled holder.
   */
  readonly lockTimeoutMs?: number;
  /**
   * How long a session may sit idle inside a transaction before the server ends it (and its
   * locks); default 30 s. A paused or partitioned process (SIGSTOP, a GC stall, a lost network)
   * then holds the stock rows it locked for that long at most, not until it comes back.
   */
  readonly idleInTransactionTimeoutMs?: number;
  /** Called when an idle pooled connection fails (the pool drops it). Default: a process warning. */
  readonly onIdleConnectionError?: (error: Error) => void;
}

const DEFAULT_POOL_SIZE = 10;
const DEFAULT_LOCK_TIMEOUT_MS = 5_000;
const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * PostgreSQL server behind the Database port, over a `pg.Pool`. The connection is verified at
 * open, so a wrong URL fails at startup with an error naming host, port, database and user.
 */
export async function openPgDatabase(options: PgDatabaseOptions): Promise<Database> {
  const { name, poolSize = DEFAULT_POOL_SIZE } = options;
  const target = describeConnectionTarget(options.url, name);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: poolSize,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: name,
    // Sent in the startup packet, so every pooled connection has them before its first query.
    options: Object.entries({
      ...SESSION_SETTINGS,
      lock_timeout: `${options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS}ms`,
      idle_in_transaction_session_timeout: `${options.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS}ms`,
    })
      .map(([setting, value]) => `-c ${setting}=${value.replaceAll(" ", "\\ ")}`)
      .join(" "),
    types: rowValueTypes,
  });
  // Without a listener, an idle connection dropped by the server (restart, failover) would be an
  // unhandled 'error' event and crash the process; the pool already discards the broken client.
  const onIdleConnectionError =
    options.onIdleConnectionError ??
    ((error: Error) => process.emitWarning(`${name}: idle PostgreSQL connection failed: ${error.message}`));
  pool.on("error", onIdleConnectionError);

  try {
    const client = await pool.connect();
    try {
      await client.query("SELECT 1");
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new Error(`${name}: cannot connect to PostgreSQL at ${target}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  return new PgDatabase(name, pool);
}

class PgDatabase implements Database {
  private readonly ownTransaction: OwnTransactionGuard;
  private closing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    private readonly pool: pg.Pool,
  ) {
    this.ownTransaction = new OwnTransactionGuard(name);
  }

  async query<R extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<R[]> {
    this.ownTransaction.assertOutside("query");
    const result = await this.pool.query<R>(singleStatementQuery(text, params));
    return result.rows;
  }

  async exec(script: string): Promise<void> {
    this.ownTransaction.assertOutside("exec");
    await this.pool.query(script);
  }

  async transaction<T>(work: (tx: TransactionSql) => Promise<T>): Promise<T> {
    this.ownTransaction.assertOutside("transaction");
    const client = await this.pool.connect();
    const { handle, finish } = closableTransactionHandle(this.name, wrapClient(client));
    // Set when the connection's state is unknown, so release() destroys it instead of pooling it.
    let connectionUnusable: Error | undefined;
    // The server may end the session mid-transaction (idle_in_transaction_session_timeout while
    // this process was paused, a restart): pg emits that on the checked-out client, and an
    // 'error' event without a listener would crash the process. The next query fails instead.
    const onConnectionError = (error: Error) => {
      connectionUnusable ??= error;
    };
    client.on("error", onConnectionError);
    try {
      await client.query("BEGIN");
      const result = await this.ownTransaction.run(() => work(handle));
      const commit = await client.query("COMMIT");
      // Postgres answers COMMIT of an aborted transaction (a statement failed and `work` caught
      // the error) with a ROLLBACK tag and no error; pg would report success. PGlite throws here.
      if (commit.command === "ROLLBACK") {
        throw new Error(
          `${this.name}: transaction was rolled back at COMMIT because a statement in it failed`,
        );
      }
      return result;
    } catch (error) {
      try {
        await client.query("ROLLBACK");
      } catch (rollbackError) {
        connectionUnusable =
          rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
      throw error;
    } finally {
      finish();
      client.off("error", onConnectionError);
      client.release(connectionUnusable);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }
}

function wrapClient(client: PoolClient): TransactionSql {
  return {
    async query<R extends Row = Row>(text: string, params: readonly unknown[] = []): Promise<R[]> {
      const result = await client.query<R>(singleStatementQuery(text, params));
      return result.rows;
    },
    async exec(script: string): Promise<void> {
      await client.query(script);
    },
  };
}

/**
 * pg uses the simple protocol for a query without parameters, which would accept several
 * statements; the extended protocol (what PGlite's query uses too) accepts exactly one, so a
 * `query` behaves the same with or without parameters and cannot smuggle in a second statement.
 */
function singleStatementQuery(text: string, params: readonly unknown[]): QueryConfig<unknown[]> {
  const config: QueryConfig<unknown[]> & { queryMode: "extended" } = {
    text,
    values: [...params],
    queryMode: "extended",
  };
  return config;
}

// pg's text[] parser splits any Postgres array literal into (nested) strings and nulls; the
// port's element parsers are then applied to each string.
const TEXT_ARRAY_OID = 1009;
// pg-types declares its oid parameter as an enum of scalar types only; array oids are valid too.
const getTextParser = pg.types.getTypeParser as (oid: number, format: "text") => (text: string) => unknown;
const parseArrayOfText = getTextParser(TEXT_ARRAY_OID, "text");

function mapArrayElements(value: unknown, parseElement: (text: string) => unknown): unknown {
  if (Array.isArray(value)) return value.map((entry) => mapArrayElements(entry, parseElement));
  return typeof value === "string" ? parseElement(value) : value;
}

/** The port's row representation (see database.ts), installed per pool, not in pg's global registry. */
const rowValueTypes: CustomTypesConfig = {
  getTypeParser: (oid: number, format?: "text" | "binary") => {
    if (format === "binary") return pg.types.getTypeParser(oid, format);
    const scalar = ROW_VALUE_PARSERS[oid];
    if (scalar) return scalar;
    const parseElement = ROW_VALUE_PARSERS[ARRAY_ELEMENT_OID[oid] ?? -1];
    if (parseElement) return (text: string) => mapArrayElements(parseArrayOfText(text), parseElement);
    return pg.types.getTypeParser(oid, format);
  },
};

/** Array type oid → element type oid, for the element types the port converts itself. */
const ARRAY_ELEMENT_OID: Readonly<Record<number, number>> = {
  1001: 17, // bytea[]
  1016: 20, // int8[]
  1182: 1082, // date[]
  1115: 1114, // timestamp[]
  1185: 1184, // timestamptz[]
  1187: 1186, // interval[]
};

/** `host:port/database as user`, from the URL, without the password. */
function describeConnectionTarget(url: string, name: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Not echoing the URL: it may carry a password.
    throw new Error(`${name}: the PostgreSQL URL is not a valid URL (postgres://user@host:port/database)`);
  }
  const host = parsed.searchParams.get("host") ?? (decodeURIComponent(parsed.hostname) || "localhost");
  const port = parsed.port || "5432";
  const user = decodeURIComponent(parsed.username) || "(default user)";
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || user;
  return `${host}:${port}/${database} as ${user}`;
}

function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return error.errors.map(errorMessage).join("; ");
  }
  if (error instanceof Error) return error.message || error.constructor.name;
  return String(error);
}
