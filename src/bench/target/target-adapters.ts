/**
 * What the FLOODGATE_* settings of a bench target select: where its stock, queue, sold-out news,
 * cache and database live. Read from the settings the bench passes (never from the target), so
 * the report can say what was measured and the bench knows which shared servers a run touches.
 */

/** A server on this machine that a target setting points at. */
export interface ServerAddress {
  readonly scheme: string;
  readonly host: string;
  readonly port: number;
}

export interface TargetAdapters {
  readonly stock: string;
  readonly queue: string;
  readonly broadcast: string;
  readonly cache: string;
  readonly database: string;
}

type Env = Readonly<Record<string, string>>;

const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  redis: 6379,
  "redis-cluster": 6379,
  nats: 4222,
  memcached: 11211,
  postgres: 5432,
  postgresql: 5432,
};

/** The scheme of a setting's URL, lower-cased; undefined when unset or empty. */
export function schemeOf(url: string | undefined): string | undefined {
  if (url === undefined || url.trim() === "") return undefined;
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(url.trim())?.[1]?.toLowerCase();
}

/** Which adapter each setting selects, with Floodgate's defaults for unset ones. */
export function targetAdapters(env: Env): TargetAdapters {
  const stock = schemeOf(env.FLOODGATE_STOCK_URL) ?? "memory";
  const queue = schemeOf(env.FLOODGATE_QUEUE_URL) ?? "embedded";
  // As the runtime decides (broadcastUrlOf): the stock Redis, else a queue server with pub/sub.
  const broadcast =
    schemeOf(env.FLOODGATE_BROADCAST_URL) ??
    (stock !== "memory" ? stock : queue === "nats" || queue === "redis" ? queue : "memory");
  return {
    stock,
    queue,
    broadcast,
    cache: schemeOf(env.FLOODGATE_CACHE_URL) ?? "memory",
    database: env.FLOODGATE_DATABASE_URLS ? "postgres" : "pglite",
  };
}

/** True for the deployment issue 5 measures: live stock in Redis, orders through JetStream. */
export function runsOnRedisAndJetStream(env: Env): boolean {
  const adapters = targetAdapters(env);
  return (adapters.stock === "redis" || adapters.stock === "redis-cluster") && adapters.queue === "nats";
}

/** One line for the report, e.g. "stock in Redis (redis://127.0.0.1:6379), queue on JetStream …". */
export function describeTargetAdapters(env: Env): string {
  const adapters = targetAdapters(env);
  const at = (name: string) => (env[name] ? ` (${redactUrl(env[name])})` : "");
  const stock =
    adapters.stock === "memory"
      ? "stock in process memory"
      : `stock in ${adapters.stock}${at("FLOODGATE_STOCK_URL")}`;
  const queue =
    adapters.queue === "embedded"
      ? "queue: the embedded log"
      : `queue on ${adapters.queue === "nats" ? "NATS JetStream" : "Redis Streams"}${at("FLOODGATE_QUEUE_URL")}`;
  const broadcast =
    adapters.broadcast === "memory"
      ? "sold-out news in process"
      : `sold-out news over ${adapters.broadcast}${env.FLOODGATE_BROADCAST_URL ? at("FLOODGATE_BROADCAST_URL") : ""}`;
  const cache =
    adapters.cache === "memory"
      ? "cache in process"
      : adapters.cache === "none"
        ? "caching off"
        : `cache L2 on ${adapters.cache}${at("FLOODGATE_CACHE_URL")}`;
  const database = adapters.database === "pglite" ? "database PGlite" : "database PostgreSQL";
  return [stock, queue, broadcast, cache, database].join(", ");
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//…@");
}

/**
 * Every server the settings point at (host and port; a cluster URL lists several), so the bench
 * can account for their CPU. Unset settings and in-process adapters contribute nothing.
 */
export function serverAddresses(env: Env): ServerAddress[] {
  const urls = [
    env.FLOODGATE_STOCK_URL,
    env.FLOODGATE_QUEUE_URL,
    env.FLOODGATE_BROADCAST_URL,
    env.FLOODGATE_CACHE_URL,
    ...(env.FLOODGATE_DATABASE_URLS ?? "").split(","),
  ];
  const found = new Map<string, ServerAddress>();
  for (const url of urls) {
    for (const address of addressesIn(url)) found.set(`${address.host}:${address.port}`, address);
  }
  return [...found.values()];
}

/** The host:port pairs of one URL (`redis-cluster://h:p,h:p` has several). */
export function addressesIn(url: string | undefined): ServerAddress[] {
  const scheme = schemeOf(url);
  const port = scheme === undefined ? undefined : DEFAULT_PORTS[scheme];
  if (scheme === undefined || port === undefined) return [];
  const authority = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/]*@)?([^/?#]*)/i.exec(url!.trim())?.[1] ?? "";
  return authority
    .split(",")
    .filter((part) => part !== "")
    .map((part) => {
      const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(part);
      const [host, portText] = bracketed
        ? [bracketed[1]!, bracketed[2]]
        : [part.split(":")[0]!, part.split(":")[1]];
      return { scheme, host, port: portText ? Number(portText) : port };
    });
}
