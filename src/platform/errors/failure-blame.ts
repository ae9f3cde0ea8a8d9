import { AppError } from "./catalogue.js";

/**
 * Whose fault a failed attempt to handle a message is (the order writer's store, an event
 * consumer's transaction). It decides whether the message pays a delivery attempt, and so whether
 * an outage can push accepted orders, or events, into the dead-letter topic:
 * - `message`: the message itself is refused (PostgreSQL class 22 data exception or 23 integrity
 *   constraint violation: the row it makes is invalid). Retrying it cannot help: give it back.
 * - `dependency`: something the worker depends on is down, overloaded or restarting (the
 *   inventory client's dependency_failed, dependency_timeout, unavailable, not_accepted; a
 *   database connection error or a closed database). Not the message's fault: hold it.
 * - `unclear`: anything else (an internal_error from the inventory, a refused service token, a
 *   bug). The message's fault only where the dependencies demonstrably work: another message
 *   goes through right after it failed.
 */
export type Blame = "message" | "dependency" | "unclear";

const DEPENDENCY_CODES: ReadonlySet<string> = new Set([
  "dependency_failed",
  "dependency_timeout",
  "unavailable",
  "not_accepted",
  "queue_unavailable",
]);

/** Socket errors: the request never got an answer. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/**
 * SQLSTATE classes of a database that cannot serve right now: 08 connection exception, 40
 * transaction rollback (serialization failure, deadlock: a retry succeeds), 53 insufficient
 * resources, 57 operator intervention (shutdown, cannot connect now, statement timeout), 58
 * system error (I/O).
 */
const UNAVAILABLE_SQLSTATE_CLASSES: ReadonlySet<string> = new Set(["08", "40", "53", "57", "58"]);
/** And two of other classes: lock_not_available (a lock timeout), read_only_sql_transaction (a failover under way). */
const UNAVAILABLE_SQLSTATES: ReadonlySet<string> = new Set(["55P03", "25006"]);
/** 22 data exception, 23 integrity constraint violation: the values this message carries. */
const MESSAGE_SQLSTATE_CLASSES: ReadonlySet<string> = new Set(["22", "23"]);
const SQLSTATE = /^[0-9A-Z]{5}$/;

/** What the database clients say, without a code, when they have no connection to use. */
const NO_CONNECTION =
  /^(PGlite is closed|Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end)/;

/** Wrapped errors are judged by the first cause in the chain that says something definite. */
const MAX_CAUSES = 5;

export function blameFor(error: unknown): Blame {
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSES && current !== null && current !== undefined; depth++) {
    const blame = blameOne(current);
    if (blame !== "unclear") return blame;
    current = (current as { cause?: unknown }).cause;
  }
  return "unclear";
}

function blameOne(error: unknown): Blame {
  if (error instanceof AppError) return DEPENDENCY_CODES.has(error.code) ? "dependency" : "unclear";
  if (typeof error !== "object" || error === null) return "unclear";
  const { code, name, message } = error as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof code === "string") {
    if (NETWORK_CODES.has(code)) return "dependency";
    if (SQLSTATE.test(code)) {
      const sqlClass = code.slice(0, 2);
      if (MESSAGE_SQLSTATE_CLASSES.has(sqlClass)) return "message";
      if (UNAVAILABLE_SQLSTATE_CLASSES.has(sqlClass) || UNAVAILABLE_SQLSTATES.has(code)) return "dependency";
    }
  }
  if (name === "TimeoutError") return "dependency";
  if (typeof message === "string" && NO_CONNECTION.test(message)) return "dependency";
  return "unclear";
}
