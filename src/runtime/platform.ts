import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { loadOrCreateSecret } from "../platform/auth/secret-file.js";
import { TokenService } from "../platform/auth/tokens.js";
import type { Broadcast } from "../platform/broadcast/broadcast.js";
import { openBroadcast } from "../platform/broadcast/open-broadcast.js";
import type { Caching } from "../platform/cache/caching.js";
import { cacheUrlScheme } from "../platform/cache/open-cache.js";
import { type Config, ConfigError } from "../platform/config/load-config.js";
import { SERVICE_NAMES } from "../platform/config/settings.js";
import type { Database } from "../platform/db/database.js";
import { openPgDatabase } from "../platform/db/pg-database.js";
import { openPgliteDatabase } from "../platform/db/pglite-database.js";
import { createShardRouter, type ShardRouter } from "../platform/db/shard-router.js";
import type { SnowflakeGenerator } from "../platform/ids/snowflake.js";
import type { Logger } from "../platform/observability/logger.js";
import { Metrics } from "../platform/observability/metrics.js";
import { tracingActive } from "../platform/observability/tracing.js";
import { traceStream } from "../platform/observability/tracing-stream.js";
import { openEmbeddedStream } from "../platform/queue/embedded/embedded-stream.js";
import { openJetStream } from "../platform/queue/nats/jetstream-stream.js";
import { openRedisStreams } from "../platform/queue/redis-streams/redis-streams.js";
import type { Stream } from "../platform/queue/stream.js";
import { isRedisUrl, openRateLimiter } from "../platform/ratelimit/open-rate-limiter.js";
import type { RateLimiter } from "../platform/ratelimit/rate-limiter.js";
import { openReservationBook } from "../platform/reservations/open-reservation-book.js";
import type { ReservationBook } from "../platform/reservations/reservation-book.js";
import { openCaching } from "./caching.js";
import { openIdGenerator } from "./worker-ids.js";

/** The ports of one process, with the adapters config chose. Only the runtime builds this. */
export interface Platform {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly databases: ShardRouter;
  readonly stream: Stream;
  readonly caching: Caching;
  readonly reservations: ReservationBook;
  readonly rateLimiter: RateLimiter;
  readonly broadcast: Broadcast;
  readonly ids: SnowflakeGenerator;
  readonly tokens: TokenService;
  close(): Promise<void>;
}

/**
 * FLOODGATE_RATE_LIMIT_URL, else the Redis of the cache; undefined: memory. Not the stock's Redis:
 * it runs with appendfsync always for the reservation book, and a bucket needs no fsync.
 */
export function intakeRateLimitUrlOf(config: Config): string | undefined {
  if (config.rateLimitUrl) return isRedisUrl(config.rateLimitUrl) ? config.rateLimitUrl : undefined;
  return isRedisUrl(config.cacheUrl) ? config.cacheUrl : undefined;
}

export function dataDirOf(config: Config): string {
  return resolve(config.dataDir);
}

/**
 * Where this process keeps its embedded stores (queue log, PGlite shards). A process hosting every
 * service uses the data dir itself; one hosting fewer uses `services/<names>` inside it, so that
 * `floodgate service <name>` processes can share one data dir (and its generated auth secret,
 * which stays at the top so every process verifies the same tokens) without sharing stores.
 */
export function storeDirOf(config: Config): string {
  const all = SERVICE_NAMES.every((name) => config.services.includes(name));
  return all ? dataDirOf(config) : join(dataDirOf(config), "services", [...config.services].sort().join("+"));
}

export function tokenServiceFor(config: Config): TokenService {
  if (config.env === "production" && !config.authSecret) {
    throw new ConfigError(
      "FLOODGATE_ENV is production and FLOODGATE_AUTH_SECRET is unset: set the secret the servers sign with.",
    );
  }
  return new TokenService({
    current: config.authSecret ?? loadOrCreateSecret(dataDirOf(config)),
    previous: config.authPreviousSecret,
  });
}

export async function openDatabases(config: Config, logger: Logger): Promise<Database[]> {
  if (config.databaseUrls) {
    return Promise.all(
      config.databaseUrls.map((url, index) => openPgDatabase({ url, name: `shard-${index}` })),
    );
  }
  const root = join(storeDirOf(config), "pglite");
  mkdirSync(root, { recursive: true });
  logger.info({ shards: config.embeddedShards, dir: root }, "opening embedded PGlite shards");
  // One at a time: each PGlite start is CPU-heavy, and in parallel they only slow each other.
  const databases: Database[] = [];
  for (let index = 0; index < config.embeddedShards; index++) {
    databases.push(
      await openPgliteDatabase({ dataDir: join(root, `shard-${index}`), name: `shard-${index}` }),
    );
  }
  return databases;
}

/**
 * The Stream adapter FLOODGATE_QUEUE_URL names: the embedded log, NATS JetStream or Redis Streams.
 * Also used by `floodgate queue` and `floodgate dlq`, which open the queue the server uses.
 */
export async function openStream(config: Config, storeDir: string, logger: Logger): Promise<Stream> {
  const onWarning = (message: string) => logger.warn({ component: "queue" }, message);
  const url = config.queueUrl;
  switch (queueSchemeOf(config)) {
    case "nats":
      return openJetStream(url!, {
        onWarning,
        streamPrefix: `${config.queuePrefix.toUpperCase().replaceAll("-", "_")}_`,
        subjectPrefix: config.queuePrefix,
      });
    case "redis":
      return openRedisStreams(url!, { onWarning, keyPrefix: `${config.queuePrefix}:stream:` });
    default:
      return openEmbeddedStream(join(storeDir, "queue"), { onWarning });
  }
}

/** `nats`, `redis`, or `embedded` (also when FLOODGATE_QUEUE_URL is unset). */
export function queueSchemeOf(config: Config): string {
  const url = config.queueUrl;
  return url ? url.slice(0, url.indexOf(":")).toLowerCase() : "embedded";
}

/**
 * Where "sold out" news travels: FLOODGATE_BROADCAST_URL, else the stock Redis, else the queue's
 * server when it has pub/sub (NATS, Redis), else this process only.
 */
export function broadcastUrlOf(config: Config): string | undefined {
  if (config.broadcastUrl) return config.broadcastUrl;
  if (config.stockUrl && cacheUrlScheme(config.stockUrl) !== "memory") return config.stockUrl;
  const queue = config.queueUrl && cacheUrlScheme(config.queueUrl);
  return queue === "nats" || queue === "redis" ? config.queueUrl : undefined;
}

export async function openPlatform(config: Config, logger: Logger): Promise<Platform> {
  const storeDir = storeDirOf(config);
  mkdirSync(storeDir, { recursive: true });
  const metrics = new Metrics();
  /** What is open so far, closed in reverse if a later step fails. */
  const opened: (() => Promise<void>)[] = [];
  const closeOpened = async () => {
    for (const close of opened.reverse()) await close().catch(() => {});
  };
  const onError = (component: string) => (error: unknown) =>
    logger.warn({ err: error, component }, `${component} connection error`);
  try {
    // The stream first: when embedded it takes the data dir's lock, so a second process on the same
    // dir stops here with a clear message before it touches any database file.
    const untracedStream = await openStream(config, storeDir, logger);
    // With tracing on, the trace of the request that appended a message follows it to its consumer.
    const stream = tracingActive() ? traceStream(untracedStream) : untracedStream;
    opened.push(() => stream.close());
    const databases = await openDatabases(config, logger);
    opened.push(async () => {
      await Promise.all(databases.map((db) => db.close()));
    });
    // Released by close(), which runs after the services stopped: nothing mints after the release.
    const idGenerator = await openIdGenerator(config, dataDirOf(config), logger);
    opened.push(() => idGenerator.close());
    const caching = await openCaching(config, metrics, logger);
    opened.push(() => caching.close());
    // Only a process hosting the inventory uses the book; the others need no stock connection.
    const reservations = await openReservationBook(
      config.services.includes("inventory") ? config.stockUrl : undefined,
      { prefix: config.stockPrefix, onError: onError("stock") },
    );
    opened.push(() => reservations.close());
    // Only the order intake limits requests itself (the gateway has its own limiter); with both
    // of its rates off it needs no store.
    const limitsOrders =
      config.services.includes("orders") &&
      config.ordersRole !== "worker" &&
      (config.orderUserRate > 0 || config.orderIpRate > 0);
    const rateLimiter = await openRateLimiter(limitsOrders ? intakeRateLimitUrlOf(config) : undefined, {
      prefix: config.cachePrefix,
      onWarning: (error) =>
        logger.warn({ err: error }, "rate-limit store unreachable; limiting per process meanwhile"),
    });
    opened.push(() => rateLimiter.close());
    const broadcast = await openBroadcast(broadcastUrlOf(config), {
      prefix: `${config.queuePrefix}`,
      onError: onError("broadcast"),
    });
    opened.push(() => broadcast.close());
    return {
      config,
      logger,
      metrics,
      databases: createShardRouter(databases),
      stream,
      caching,
      reservations,
      rateLimiter,
      broadcast,
      ids: idGenerator.ids,
      tokens: tokenServiceFor(config),
      close: closeOpened,
    };
  } catch (error) {
    await closeOpened();
    throw error;
  }
}
