/**
 * What the networked cache adapters (Redis, Redis Cluster, Memcached) share: their options, the
 * parsing of their URLs, the deadline every call is held to, and the reporting of connection
 * errors. A cache sits in front of the database, so when it is down or slow a call must fail
 * quickly (the caller then reads the database) instead of queueing until the server is back.
 */

export interface RemoteCacheOptions {
  /**
   * Every get/set/delete settles within this time: it resolves, or rejects when the server is
   * down, unreachable or slow. A write that timed out may still land on the server. Default 250.
   */
  readonly commandTimeoutMs?: number;
  /**
   * How long opening waits for the first connection before it fails, and how long each later
   * connection attempt may take. Default 2000.
   */
  readonly connectTimeoutMs?: number;
  /** Reconnect attempts back off exponentially up to this delay (Redis; Memcached reconnects on use). Default 1000. */
  readonly maxReconnectDelayMs?: number;
  /**
   * Connection errors (refused, reset, timed out, cluster node lost), so they can be logged or
   * counted. They never crash the process, and the failing calls reject on their own. Reported at
   * most once a second per source, with the number left out. Default: ignored.
   */
  readonly onError?: (error: Error) => void;
}

export const REMOTE_CACHE_DEFAULTS = {
  commandTimeoutMs: 250,
  connectTimeoutMs: 2000,
  maxReconnectDelayMs: 1000,
} as const;

export type ResolvedRemoteCacheOptions = Required<Omit<RemoteCacheOptions, "onError">> & {
  readonly onError: ((error: Error) => void) | undefined;
};

export function resolveRemoteCacheOptions(options: RemoteCacheOptions = {}): ResolvedRemoteCacheOptions {
  const resolved = {
    commandTimeoutMs: options.commandTimeoutMs ?? REMOTE_CACHE_DEFAULTS.commandTimeoutMs,
    connectTimeoutMs: options.connectTimeoutMs ?? REMOTE_CACHE_DEFAULTS.connectTimeoutMs,
    maxReconnectDelayMs: options.maxReconnectDelayMs ?? REMOTE_CACHE_DEFAULTS.maxReconnectDelayMs,
    onError: options.onError,
  };
  for (const name of ["commandTimeoutMs", "connectTimeoutMs", "maxReconnectDelayMs"] as const) {
    const value = resolved[name];
    if (!Number.isInteger(value) || value <= 0) {
      throw new RangeError(`cache option ${name} must be a positive integer (ms), got ${value}`);
    }
  }
  return resolved;
}

export interface ServerAddress {
  readonly host: string;
  readonly port: number;
}

export interface ParsedCacheUrl {
  /** Lower case, without `://`. */
  readonly scheme: string;
  readonly servers: readonly ServerAddress[];
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** What follows the server list, e.g. `/2` (a Redis database); "" when none. */
  readonly path: string;
  /** The URL with any password replaced by `***`, safe for errors and logs. */
  readonly redacted: string;
}

/**
 * Parses `scheme://[user[:password]@]host[:port][,host[:port]…][/path]`. The WHATWG URL parser
 * cannot be used: it rejects the comma-separated host lists of cluster and memcached URLs. Host
 * may be an IPv6 literal in brackets. Errors never contain the password.
 */
export function parseCacheUrl(url: string, defaultPort: number): ParsedCacheUrl {
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (!schemeMatch) throw new Error(`cache URL ${redactUrl(url)} must look like scheme://host:port`);
  const scheme = schemeMatch[1]!.toLowerCase();
  let rest = url.slice(schemeMatch[0].length);

  const pathStart = rest.search(/[/?#]/);
  const path = pathStart === -1 ? "" : rest.slice(pathStart);
  rest = pathStart === -1 ? rest : rest.slice(0, pathStart);

  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at !== -1) {
    const userInfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userInfo.indexOf(":");
    username = decodeComponent(colon === -1 ? userInfo : userInfo.slice(0, colon), url) || undefined;
    password = colon === -1 ? undefined : decodeComponent(userInfo.slice(colon + 1), url) || undefined;
  }

  const redacted = redactUrl(url);
  if (rest === "") throw new Error(`cache URL ${redacted} names no server`);
  const servers = rest.split(",").map((entry) => parseServerAddress(entry, defaultPort, redacted));
  return { scheme, servers, username, password, path, redacted };
}

function parseServerAddress(entry: string, defaultPort: number, redactedUrl: string): ServerAddress {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+))(?::(\d+))?$/i.exec(entry.trim());
  if (!match) throw new Error(`cache URL ${redactedUrl}: "${entry}" is not host[:port]`);
  const host = match[1] ?? match[2]!;
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`cache URL ${redactedUrl}: port ${match[3]} is out of range`);
  }
  return { host, port };
}

function decodeComponent(text: string, url: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new Error(`cache URL ${redactUrl(url)} has a malformed %-escape in its user or password`);
  }
}

/** Replaces the password of `scheme://user:password@…` with `***`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:@/]*):[^/]*@/i, "$1:***@");
}

/**
 * The TTL as whole milliseconds, rounded up so an entry never expires before it was asked to.
 * Zero, negative and non-finite TTLs are rejected: Redis refuses them and Memcached would read
 * 0 as "never expire", so letting them through would make the adapters disagree.
 */
export function wholeTtlMs(ttlMs: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`cache TTL must be a positive number of milliseconds, got ${ttlMs}`);
  }
  return Math.ceil(ttlMs);
}

export class CacheTimeoutError extends Error {
  override readonly name = "CacheTimeoutError";
}

/**
 * Settles like `operation`, or rejects with CacheTimeoutError after `timeoutMs`, whichever comes
 * first. For clients whose own timeouts do not bound every path (cluster redirections and retries,
 * a memcached socket closed under pending requests). A late rejection of `operation` is absorbed
 * here, so it never surfaces as an unhandled rejection.
 */
export function withDeadline<T>(
  operation: Promise<T>,
  timeoutMs: number,
  describe: () => string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new CacheTimeoutError(`${describe()} timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
    operation.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * The delay before reconnect attempt `attempt` (1, 2, …): 50 ms doubling up to `maxDelayMs`,
 * each drawn at random between half and all of that, so the many processes that lost the same
 * server do not all reconnect in the same instant.
 */
export function reconnectDelayMs(attempt: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, 50 * 2 ** Math.min(attempt - 1, 16));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

const REPORT_INTERVAL_MS = 1000;

/**
 * Passes connection errors to `onError`, at most one per source (server, cluster node) per
 * second: while a server is down every reconnect attempt, and with Memcached every call, fails,
 * and a flood of identical errors would bury the first, useful one in the logs.
 */
export class ConnectionErrorReporter {
  private readonly lastReported = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly adapter: string,
    private readonly onError: ((error: Error) => void) | undefined,
  ) {}

  report(source: string, error: unknown): void {
    if (!this.onError) return;
    const now = Date.now();
    const last = this.lastReported.get(source);
    if (last && now - last.at < REPORT_INTERVAL_MS) {
      last.suppressed += 1;
      return;
    }
    const cause = error instanceof Error ? error : new Error(String(error));
    const suppressed = last?.suppressed ? ` (${last.suppressed} more since the last report)` : "";
    this.lastReported.set(source, { at: now, suppressed: 0 });
    try {
      this.onError(new Error(`${this.adapter} ${source}: ${cause.message}${suppressed}`, { cause }));
    } catch {
      // A throwing callback runs inside a socket event handler, where it would crash the process.
    }
  }
}
