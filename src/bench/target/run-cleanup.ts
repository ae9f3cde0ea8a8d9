import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Cluster } from "ioredis";
import { connectRedis } from "../../platform/cache/redis-cache.js";
import { jetStreamStreamPrefix, type RunLeftovers, redisPrefixPattern } from "./run-namespace.js";

/** What removing a run's leftovers did. */
export interface CleanupOutcome {
  readonly streamsDeleted: string[];
  readonly keysDeleted: number;
  /** Each failure, with what it was about; the run's figures stand, only the cleanup is incomplete. */
  readonly errors: string[];
  /** What could not be removed by design (Memcached keys, left to expire). */
  readonly expiring: readonly string[];
}

const CONNECT_TIMEOUT_MS = 5_000;
/** One bound for the whole cleanup of one server, so a dead server cannot hang the bench. */
const CLEANUP_TIMEOUT_MS = 60_000;
const SCAN_COUNT = 1000;

function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} took more than ${CLEANUP_TIMEOUT_MS} ms`)),
      CLEANUP_TIMEOUT_MS,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Deletes the run's JetStream streams: those whose name carries the run's stream prefix and whose
 * every subject is under the run's subject prefix (both, so a stream of anyone else is never
 * touched even if its name happened to match).
 */
async function deleteRunStreams(url: string, queuePrefix: string): Promise<string[]> {
  const connection = await connect({ servers: url, timeout: CONNECT_TIMEOUT_MS });
  try {
    const manager = await jetstreamManager(connection, { timeout: CONNECT_TIMEOUT_MS });
    const namePrefix = jetStreamStreamPrefix(queuePrefix);
    const names: string[] = [];
    for await (const info of manager.streams.list(`${queuePrefix}.>`)) {
      const subjects = info.config.subjects ?? [];
      if (
        info.config.name.startsWith(namePrefix) &&
        subjects.length > 0 &&
        subjects.every((subject) => subject.startsWith(`${queuePrefix}.`))
      ) {
        names.push(info.config.name);
      }
    }
    for (const name of names) await manager.streams.delete(name);
    return names;
  } finally {
    await connection.close();
  }
}

/** Deletes every key under `prefix` (on every master of a cluster), in SCAN-sized batches. */
async function deleteRedisKeys(url: string, prefix: string): Promise<number> {
  const client = await connectRedis(url, {
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    commandTimeoutMs: CONNECT_TIMEOUT_MS,
  });
  try {
    const nodes = client instanceof Cluster ? client.nodes("master") : [client];
    let deleted = 0;
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await node.scan(
          cursor,
          "MATCH",
          redisPrefixPattern(prefix),
          "COUNT",
          SCAN_COUNT,
        );
        cursor = next;
        if (client instanceof Cluster) {
          // One key per command: the keys of one batch may hash to different slots.
          for (const key of keys) deleted += await client.unlink(key);
        } else if (keys.length > 0) {
          deleted += await client.unlink(...keys);
        }
      } while (cursor !== "0");
    }
    return deleted;
  } finally {
    client.disconnect();
  }
}

/** Removes what a run wrote on shared servers. Never throws: failures are reported in the outcome. */
export async function removeLeftovers(leftovers: RunLeftovers): Promise<CleanupOutcome> {
  const streamsDeleted: string[] = [];
  let keysDeleted = 0;
  const errors: string[] = [];
  for (const { url, queuePrefix } of leftovers.natsStreams) {
    try {
      streamsDeleted.push(
        ...(await withTimeout(deleteRunStreams(url, queuePrefix), `deleting the ${queuePrefix} streams`)),
      );
    } catch (error) {
      errors.push(`JetStream streams of ${queuePrefix} on ${url}: ${(error as Error).message}`);
    }
  }
  for (const { url, prefix } of leftovers.redisKeys) {
    try {
      keysDeleted += await withTimeout(deleteRedisKeys(url, prefix), `deleting the keys under ${prefix}`);
    } catch (error) {
      errors.push(`Redis keys under ${prefix} on ${url}: ${(error as Error).message}`);
    }
  }
  return { streamsDeleted, keysDeleted, errors, expiring: leftovers.expiring };
}
