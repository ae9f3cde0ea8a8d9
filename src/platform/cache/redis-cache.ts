import type { EventEmitter } from "node:events";
import { fileURLToPath } from "node:url";
import { Cluster, Redis } from "ioredis";
import { LuaScript } from "../redis/lua-script.js";
import type { Cache } from "./cache.js";
import {
  ConnectionErrorReporter,
  parseCacheUrl,
  type RemoteCacheOptions,
  type ResolvedRemoteCacheOptions,
  reconnectDelayMs,
  resolveRemoteCacheOptions,
  wholeTtlMs,
  withDeadline,
} from "./remote-cache.js";
import {
  type CacheEntry,
  checkVersion,
  decodeEntry,
  encodeEntry,
  type FillEntry,
} from "./versioned-entry.js";

const fillScript = new LuaScript(fileURLToPath(new URL("./cache-fill-1.lua", import.meta.url)));
const retireScript = new LuaScript(fileURLToPath(new URL("./cache-retire-1.lua", import.meta.url)));

export type RedisConnection = Redis | Cluster;

const REDIS_PORT = 6379;

/**
 * Cluster retries (after MOVED, CLUSTERDOWN, TRYAGAIN or a lost node) happen within the
 * command's deadline anyway; fewer and sooner than ioredis's defaults (16, every 100 ms) so a
 * call that cannot succeed stops creating load on a cluster that is recovering.
 */
const CLUSTER_MAX_REDIRECTIONS = 4;
const CLUSTER_RETRY_DELAY_MS = 50;

/**
 * Opens a connection for `redis://[user[:password]@]host[:port][/db]` or
 * `redis-cluster://[user[:password]@]host:port,host:port,…` (some of the cluster's nodes; the
 * others are discovered) with the fail-fast settings below, and waits until it is ready. Rejects
 * after `connectTimeoutMs` when it cannot connect, with an error that never contains the password.
 *
 * Fail fast, recover alone:
 * - no offline queue: while disconnected a command is rejected at once, instead of waiting in an
 *   unbounded queue for a server that may be gone for minutes;
 * - `commandTimeout`: a connected but slow or hung server rejects each command after
 *   `commandTimeoutMs`;
 * - `maxRetriesPerRequest: 0`: commands in flight when the connection drops are rejected, not
 *   re-sent after a reconnect (a cache read that late is worthless, and a write may be stale);
 * - reconnects back off exponentially with jitter up to `maxReconnectDelayMs`, forever, so the
 *   client comes back by itself when the server does — for a cluster, per node too (ioredis's
 *   default is to never reconnect to a lost node until a slot refresh finds it again);
 * - every 'error' event has a listener (an EventEmitter 'error' without one crashes the process)
 *   that passes it to `onError`.
 *
 * Exported for the runtime, which may need more connections with the same behaviour (a
 * subscriber, locks); `openRedisCache` is the Cache.
 */
export async function connectRedis(url: string, options: RemoteCacheOptions = {}): Promise<RedisConnection> {
  const settings = resolveRemoteCacheOptions(options);
  const parsed = parseCacheUrl(url, REDIS_PORT);
  const reporter = new ConnectionErrorReporter(parsed.scheme, settings.onError);
  let client: RedisConnection;
  if (parsed.scheme === "redis") {
    if (parsed.servers.length !== 1) {
      throw new Error(
        `cache URL ${parsed.redacted}: redis:// takes one server; use redis-cluster:// for a cluster`,
      );
    }
    const server = parsed.servers[0]!;
    client = new Redis({
      ...nodeOptions(settings, parsed.username, parsed.password),
      host: server.host,
      port: server.port,
      db: databaseIndex(parsed.path, parsed.redacted),
      enableOfflineQueue: false,
      retryStrategy: (attempt) => reconnectDelayMs(attempt, settings.maxReconnectDelayMs),
    });
    client.on("error", (error: Error) => reporter.report(`${server.host}:${server.port}`, error));
  } else if (parsed.scheme === "redis-cluster") {
    if (parsed.path !== "" && parsed.path !== "/") {
      throw new Error(`cache URL ${parsed.redacted}: a cluster has no databases, so no path`);
    }
    const reconnect = (attempt: number) => reconnectDelayMs(attempt, settings.maxReconnectDelayMs);
    client = new Cluster(
      parsed.servers.map((server) => ({ host: server.host, port: server.port })),
      {
        redisOptions: nodeOptions(settings, parsed.username, parsed.password),
        enableOfflineQueue: false,
        clusterRetryStrategy: reconnect,
        clusterNodeRetryStrategy: reconnect,
        maxRedirections: CLUSTER_MAX_REDIRECTIONS,
        retryDelayOnFailover: CLUSTER_RETRY_DELAY_MS,
        retryDelayOnClusterDown: CLUSTER_RETRY_DELAY_MS,
        retryDelayOnTryAgain: CLUSTER_RETRY_DELAY_MS,
        slotsRefreshTimeout: settings.connectTimeoutMs,
      },
    );
    client.on("error", (error: Error) => reporter.report("cluster", error));
    client.on("node error", (error: Error, node: string) => reporter.report(node, error));
  } else {
    throw new Error(`cache URL ${parsed.redacted}: expected redis:// or redis-cluster://`);
  }

  try {
    await waitUntilReady(client, settings.connectTimeoutMs);
  } catch (error) {
    client.disconnect();
    throw new Error(`cannot connect to the cache at ${parsed.redacted}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return client;
}

/** The Cache over `connectRedis(url, options)`; see there for the URL forms and the failure behaviour. */
export async function openRedisCache(url: string, options: RemoteCacheOptions = {}): Promise<RedisCache> {
  const settings = resolveRemoteCacheOptions(options);
  return new RedisCache(await connectRedis(url, settings), settings);
}

/** Options every connection gets: to the server, or to each node of a cluster. */
function nodeOptions(settings: ResolvedRemoteCacheOptions, username?: string, password?: string) {
  return {
    username,
    password,
    commandTimeout: settings.commandTimeoutMs,
    connectTimeout: settings.connectTimeoutMs,
    maxRetriesPerRequest: 0,
    connectionName: "floodgate-cache",
  };
}

function databaseIndex(path: string, redactedUrl: string): number {
  if (path === "" || path === "/") return 0;
  const match = /^\/(\d+)$/.exec(path);
  if (!match) throw new Error(`cache URL ${redactedUrl}: the path must be a database number, like /2`);
  return Number(match[1]);
}

/** Resolves on 'ready'; rejects after `timeoutMs` with the last connection error seen. */
function waitUntilReady(client: RedisConnection, timeoutMs: number): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  const events = client as EventEmitter;
  return new Promise<void>((resolve, reject) => {
    let lastError: Error | undefined;
    const noteError = (error: Error) => {
      lastError = error;
    };
    const finish = (error?: Error) => {
      clearTimeout(timer);
      events.off("ready", onReady);
      events.off("error", noteError);
      events.off("node error", noteError);
      if (error) reject(error);
      else resolve();
    };
    const onReady = () => finish();
    const timer = setTimeout(
      () =>
        finish(new Error(`not ready within ${timeoutMs} ms${lastError ? ` (${lastError.message})` : ""}`)),
      timeoutMs,
    );
    events.once("ready", onReady);
    events.on("error", noteError);
    events.on("node error", noteError);
  });
}

/**
 * Redis or Redis Cluster behind the Cache port: strings in and out, TTL as `SET … PX`; versioned
 * fills and retirements are one Lua script each on the entry's one key, so they work on a cluster
 * and are atomic on the server. Build it with `openRedisCache`. It owns its connection: `close`
 * ends it.
 */
export class RedisCache implements Cache {
  private readonly commandTimeoutMs: number;
  /**
   * A single server's calls are bounded by ioredis's commandTimeout alone. A cluster call may be
   * retried on another node after the first attempt timed out, so it gets an overall deadline.
   */
  private readonly needsOverallDeadline: boolean;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly client: RedisConnection,
    options: RemoteCacheOptions = {},
  ) {
    this.commandTimeoutMs = resolveRemoteCacheOptions(options).commandTimeoutMs;
    this.needsOverallDeadline = client instanceof Cluster;
  }

  async get(key: string): Promise<string | undefined> {
    const value = await this.bounded("get", () => this.client.get(key));
    return value ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    const wholeMs = wholeTtlMs(ttlMs);
    await this.bounded("set", () => this.client.set(key, value, "PX", wholeMs));
  }

  async delete(key: string): Promise<void> {
    await this.bounded("delete", () => this.client.del(key));
  }

  async readEntry(key: string): Promise<CacheEntry | undefined> {
    const stored = await this.get(key);
    return stored === undefined ? undefined : decodeEntry(stored);
  }

  async fill(key: string, entry: FillEntry, ttlMs: number, landBy?: number): Promise<boolean> {
    const wholeMs = wholeTtlMs(ttlMs);
    const encoded = encodeEntry(entry);
    const deadline = landBy === undefined ? "" : Math.floor(landBy);
    const outcome = await this.bounded("fill", () =>
      fillScript.run(this.client, [key], [entry.version, encoded, wholeMs, deadline]),
    );
    return outcome === "stored" || outcome === "current";
  }

  async retire(key: string, version: number, ttlMs: number): Promise<void> {
    checkVersion(version);
    const wholeMs = wholeTtlMs(ttlMs);
    const encoded = encodeEntry({ kind: "retired", version });
    await this.bounded("retire", () => retireScript.run(this.client, [key], [version, encoded, wholeMs]));
  }

  /** QUIT (pending replies arrive first), bounded by the command timeout; then the socket is dropped. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await withDeadline(this.client.quit(), this.commandTimeoutMs, () => "redis cache QUIT");
      } catch {
        // Already disconnected or too slow: disconnect() below ends it either way.
      } finally {
        this.client.disconnect();
      }
    })();
    return this.closing;
  }

  private bounded<T>(operation: string, call: () => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new Error(`redis cache ${operation}: the cache is closed`));
    if (!this.needsOverallDeadline) return call();
    return withDeadline(call(), this.commandTimeoutMs, () => `redis cluster cache ${operation}`);
  }
}
