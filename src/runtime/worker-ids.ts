import { join } from "node:path";
import { cacheUrlScheme } from "../platform/cache/open-cache.js";
import { connectRedis } from "../platform/cache/redis-cache.js";
import type { Config } from "../platform/config/load-config.js";
import { openPgDatabase } from "../platform/db/pg-database.js";
import { FileWorkerIdLeases } from "../platform/ids/file-worker-id-leases.js";
import { LeasedSnowflakeGenerator } from "../platform/ids/leased-snowflake-generator.js";
import { PgWorkerIdLeases } from "../platform/ids/pg-worker-id-leases.js";
import { RedisWorkerIdLeases } from "../platform/ids/redis-worker-id-leases.js";
import { SnowflakeGenerator } from "../platform/ids/snowflake.js";
import type { WorkerIdLeases } from "../platform/ids/worker-id-leases.js";
import type { Logger } from "../platform/observability/logger.js";

/**
 * Where this process's snowflake worker id comes from. Every process of a deployment must answer
 * the same, so the order follows what every process is configured with: the database all
 * services use, then a Redis, then the data dir the processes of one host share.
 */
export type WorkerIdSource =
  | { readonly kind: "explicit"; readonly workerId: number }
  | { readonly kind: "database"; readonly url: string }
  | {
      readonly kind: "redis";
      readonly setting: "FLOODGATE_STOCK_URL" | "FLOODGATE_CACHE_URL";
      readonly url: string;
      readonly prefix: string;
    }
  | { readonly kind: "data-dir"; readonly directory: string };

/**
 * FLOODGATE_WORKER_ID when set (the operator's choice, no lease); else a lease from the primary
 * database (FLOODGATE_DATABASE_URLS); else from the stock Redis (FLOODGATE_STOCK_URL), else the
 * cache Redis (FLOODGATE_CACHE_URL); else from `<dataDir>/ids/`.
 */
export function workerIdSourceOf(config: Config, dataDir: string): WorkerIdSource {
  if (config.workerId !== undefined) return { kind: "explicit", workerId: config.workerId };
  if (config.databaseUrls) return { kind: "database", url: config.databaseUrls[0]! };
  if (isRedisUrl(config.stockUrl)) {
    return {
      kind: "redis",
      setting: "FLOODGATE_STOCK_URL",
      url: config.stockUrl!,
      prefix: config.stockPrefix,
    };
  }
  if (isRedisUrl(config.cacheUrl)) {
    return {
      kind: "redis",
      setting: "FLOODGATE_CACHE_URL",
      url: config.cacheUrl!,
      prefix: config.cachePrefix,
    };
  }
  return { kind: "data-dir", directory: join(dataDir, "ids") };
}

export interface IdGenerator {
  readonly ids: SnowflakeGenerator;
  /** Frees a leased worker id (after the services stopped minting). */
  close(): Promise<void>;
}

/** The process's snowflake generator: a fixed worker id, or one leased from the source above. */
export async function openIdGenerator(config: Config, dataDir: string, logger: Logger): Promise<IdGenerator> {
  const source = workerIdSourceOf(config, dataDir);
  if (source.kind === "explicit") {
    logger.info({ workerId: source.workerId }, "snowflake worker id set by FLOODGATE_WORKER_ID");
    return { ids: new SnowflakeGenerator(source.workerId), close: async () => {} };
  }
  const store = await openLeaseStore(source, logger);
  try {
    const ids = await LeasedSnowflakeGenerator.open(store, {
      onWarning: (message) => logger.warn({ component: "ids" }, message),
    });
    logger.info({ workerId: ids.workerId, where: store.where }, "leased a snowflake worker id");
    return {
      ids,
      close: async () => {
        await ids.close().finally(() => store.close());
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** A lease that cannot be renewed within this stops minting anyway; a slow answer is a failed one. */
const REDIS_COMMAND_TIMEOUT_MS = 2000;

async function openLeaseStore(
  source: Exclude<WorkerIdSource, { kind: "explicit" }>,
  logger: Logger,
): Promise<WorkerIdLeases> {
  switch (source.kind) {
    case "database": {
      // A connection of its own: renewals must not queue behind a burst's queries in the shared pool.
      const db = await openPgDatabase({ url: source.url, name: "shard-0", poolSize: 1 });
      try {
        const leases = await PgWorkerIdLeases.open(db, {
          log: (message) => logger.info({ component: "ids", database: db.name }, message),
        });
        return withClose(leases, () => db.close());
      } catch (error) {
        await db.close();
        throw error;
      }
    }
    case "redis": {
      const redis = await connectRedis(source.url, {
        commandTimeoutMs: REDIS_COMMAND_TIMEOUT_MS,
        onError: (error) =>
          logger.warn({ err: error, component: "ids" }, "worker-id lease Redis connection error"),
      });
      return new RedisWorkerIdLeases(redis, source.prefix, `the Redis of ${source.setting}`);
    }
    case "data-dir":
      return new FileWorkerIdLeases(source.directory);
  }
}

/** The store, whose close also closes the connection opened for it. */
function withClose(store: WorkerIdLeases, closeConnection: () => Promise<void>): WorkerIdLeases {
  return {
    where: store.where,
    acquire: (holder, ttlMs) => store.acquire(holder, ttlMs),
    renew: (workerId, holder, ttlMs, mintedUntilMs) => store.renew(workerId, holder, ttlMs, mintedUntilMs),
    release: (workerId, holder, mintedUntilMs) => store.release(workerId, holder, mintedUntilMs),
    close: async () => {
      await store.close().finally(closeConnection);
    },
  };
}

function isRedisUrl(url: string | undefined): boolean {
  const scheme = cacheUrlScheme(url);
  return url !== undefined && (scheme === "redis" || scheme === "redis-cluster");
}
