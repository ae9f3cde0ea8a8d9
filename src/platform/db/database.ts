import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Database port. The SQL dialect is PostgreSQL everywhere (PGlite when embedded, a server via
 * `pg` otherwise), so services write one SQL code path. Parameters are always bound ($1, $2…),
 * never interpolated.
 *
 * Values in returned rows are the same JS types whichever adapter produced them (the conformance
 * suite in test/platform/db checks it):
 * - int8/bigint → string, always (snowflake ids exceed 2^53; a JS number would silently round).
 *   int2/int4/oid and float4/float8 → number. numeric → string (exact; money must not round).
 * - timestamptz → ISO 8601 string in UTC with exactly six fractional digits,
 *   e.g. `2024-05-01T12:00:00.250000Z`. Strings rather than `Date` because Postgres keeps
 *   microseconds and `Date` keeps milliseconds: a value read back and used as a parameter (an
 *   equality check, a keyset cursor) must match the stored one exactly. The fixed width makes
 *   the strings sort like the instants they name. `new Date(value)` converts when needed.
 * - timestamp (without time zone) → the same shape without the `Z`; date → `YYYY-MM-DD`;
 *   time, interval and anything else without a parser → Postgres's text form. Infinite
 *   timestamps come back as `infinity` / `-infinity`.
 * - bytea → Buffer; json/jsonb → parsed JSON (put ids inside JSON as strings, not numbers);
 *   bool → boolean; arrays → arrays of the element representation; SQL NULL → null.
 * Sessions run with TimeZone=UTC and DateStyle=ISO.
 *
 * Parameters: strings, numbers, booleans, null, Buffers and Dates bind the same way in both
 * adapters. Pass int8 values as strings (or bigint), timestamps as ISO strings or Dates, and
 * json/jsonb values already `JSON.stringify`-ed: `pg` would turn a JS array into a Postgres array
 * literal, PGlite into JSON.
 */
export type Row = Record<string, unknown>;

export interface Sql {
  query<R extends Row = Row>(text: string, params?: readonly unknown[]): Promise<R[]>;
}

/**
 * The handle a transaction's work receives. `exec` is here (and not only on `Database`) because
 * migrations must run a multi-statement script in the same transaction as the advisory lock and
 * the bookkeeping row; a handle typed as plain `Sql` by callers still works.
 * The handle refuses further use once its transaction has finished.
 */
export interface TransactionSql extends Sql {
  /** Runs several statements separated by `;` with no parameters, inside the transaction. */
  exec(script: string): Promise<void>;
}

export interface Database extends Sql {
  /** A human-readable name for logs and errors (e.g. `shard-0`); never contains a password. */
  readonly name: string;
  /**
   * True when the whole process shares one session (PGlite): transactions and queries run one at
   * a time, so a transaction held open (across a network or disk wait) holds up every other
   * query of every service on this database. Absent or false: a pool of connections.
   */
  readonly singleSession?: boolean;
  /**
   * Runs `work` in one transaction; commits when it resolves, rolls back when it throws.
   * Inside `work`, use `tx` only: calling this same Database (query, exec, transaction) from within
   * its own transaction throws, because on PGlite (one session) it would wait forever for the
   * transaction to end, and on a server it would run outside the transaction on a second
   * connection. A commit that Postgres turns into a rollback (a statement failed and the error
   * was caught inside `work`) rejects rather than reporting success.
   */
  transaction<T>(work: (tx: TransactionSql) => Promise<T>): Promise<T>;
  /** Runs several statements separated by `;` with no parameters (migrations only). */
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Shared by the adapters, so that the row contract above is implemented once and cannot drift.
// ---------------------------------------------------------------------------------------------

/** Postgres type oids the adapters convert differently from their drivers' defaults. */
export const PG_TYPE_OID = {
  BYTEA: 17,
  INT8: 20,
  DATE: 1082,
  TIMESTAMP: 1114,
  TIMESTAMPTZ: 1184,
  INTERVAL: 1186,
} as const;

/** Session settings both adapters apply, so the text Postgres sends is in a known shape. */
export const SESSION_SETTINGS: Readonly<Record<string, string>> = {
  TimeZone: "UTC",
  DateStyle: "ISO, MDY",
  IntervalStyle: "postgres",
};

// `2024-05-01 12:00:00.25+00`, `2024-05-01 12:00:00+05:30`, `12345-01-01 00:00:00` (DateStyle ISO).
const POSTGRES_TIMESTAMP =
  /^(\d{4,})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?:([+-])(\d{2})(?::(\d{2}))?(?::(\d{2}))?)?$/;

/**
 * Converts Postgres's text form of a timestamp(tz) into the port's ISO form. Text it does not
 * recognise (`infinity`, BC dates) is returned unchanged rather than guessed at.
 */
export function postgresTimestampToIso(text: string, withTimeZone: boolean): string {
  const match = POSTGRES_TIMESTAMP.exec(text);
  if (!match) return text;
  const [, year, month, day, hour, minute, second, fraction = "", sign, offsetH, offsetM, offsetS] = match;
  const micros = fraction.padEnd(6, "0");
  const offsetSeconds =
    sign === undefined
      ? 0
      : (sign === "-" ? -1 : 1) * (Number(offsetH) * 3600 + Number(offsetM ?? 0) * 60 + Number(offsetS ?? 0));
  if (!withTimeZone || offsetSeconds === 0) {
    return `${year}-${month}-${day}T${hour}:${minute}:${second}.${micros}${withTimeZone ? "Z" : ""}`;
  }
  // Only reached when a session changed TimeZone away from UTC: shift to UTC via Date, which is
  // exact here because the sub-second part is carried separately.
  const instant = new Date(0);
  instant.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  instant.setUTCHours(Number(hour), Number(minute), Number(second) - offsetSeconds, 0);
  return `${instant.toISOString().slice(0, 19)}.${micros}Z`;
}

/** Text → JS conversions (by type oid) that both adapters install for scalar types. */
export const ROW_VALUE_PARSERS: Readonly<Record<number, (text: string) => unknown>> = {
  [PG_TYPE_OID.INT8]: (text) => text,
  [PG_TYPE_OID.DATE]: (text) => text,
  [PG_TYPE_OID.INTERVAL]: (text) => text,
  [PG_TYPE_OID.TIMESTAMP]: (text) => postgresTimestampToIso(text, false),
  [PG_TYPE_OID.TIMESTAMPTZ]: (text) => postgresTimestampToIso(text, true),
  // Postgres's default bytea_output is hex: `\x0a0b…`.
  [PG_TYPE_OID.BYTEA]: (text) => Buffer.from(text.slice(2), "hex"),
};

/**
 * Detects a Database being called from inside one of its own transactions (see
 * `Database.transaction`). The marker is switched off when the transaction ends, so work that
 * `work` left running in the background may use the Database afterwards.
 */
export class OwnTransactionGuard {
  private readonly activeTransaction = new AsyncLocalStorage<{ open: boolean }>();

  constructor(private readonly databaseName: string) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    const marker = { open: true };
    try {
      return await this.activeTransaction.run(marker, work);
    } finally {
      marker.open = false;
    }
  }

  assertOutside(operation: string): void {
    if (this.activeTransaction.getStore()?.open) {
      throw new Error(
        `${this.databaseName}: ${operation} called on the Database inside one of its own transactions; use the transaction's handle (tx) instead`,
      );
    }
  }
}

/**
 * Wraps a transaction's raw handle so it refuses use after the transaction finished (a query
 * fired from a forgotten promise would otherwise run outside any transaction, or on a pooled
 * connection now serving someone else).
 */
export function closableTransactionHandle(
  databaseName: string,
  raw: TransactionSql,
): { handle: TransactionSql; finish(): void } {
  let finished = false;
  const assertOpen = () => {
    if (finished) throw new Error(`${databaseName}: transaction handle used after its transaction ended`);
  };
  return {
    handle: {
      query: async <R extends Row = Row>(text: string, params?: readonly unknown[]) => {
        assertOpen();
        return raw.query<R>(text, params);
      },
      exec: async (script: string) => {
        assertOpen();
        return raw.exec(script);
      },
    },
    finish: () => {
      finished = true;
    },
  };
}
