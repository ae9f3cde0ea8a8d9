import { Cluster } from "ioredis";
import { connectRedis } from "../../platform/cache/redis-cache.js";
import { redisPrefixPattern } from "../target/run-namespace.js";

const TIMEOUT_MS = 10_000;
const SCAN_COUNT = 1000;

/** What a run keeps in Redis under its own prefix. */
export interface RedisFootprint {
  readonly keys: number;
  /** Sum of MEMORY USAGE (every element counted: SAMPLES 0) over those keys, bytes. */
  readonly bytes: number;
}

/**
 * The keys under `prefix` (the run's own stock prefix, so nobody else's keys are counted on a
 * shared server) and the memory Redis reports for them: with the stock in Redis, the reservation
 * book lives there rather than in the target's heap, so this is where growth with history shows.
 */
export async function redisFootprint(url: string, prefix: string): Promise<RedisFootprint> {
  const client = await connectRedis(url, { connectTimeoutMs: TIMEOUT_MS, commandTimeoutMs: TIMEOUT_MS });
  try {
    const nodes = client instanceof Cluster ? client.nodes("master") : [client];
    let keys = 0;
    let bytes = 0;
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, batch] = await node.scan(
          cursor,
          "MATCH",
          redisPrefixPattern(prefix),
          "COUNT",
          SCAN_COUNT,
        );
        cursor = next;
        for (const key of batch) {
          const usage = (await node.call("MEMORY", "USAGE", key, "SAMPLES", "0")) as number | null;
          if (usage === null) continue; // gone between SCAN and MEMORY USAGE
          keys++;
          bytes += usage;
        }
      } while (cursor !== "0");
    }
    return { keys, bytes };
  } finally {
    client.disconnect();
  }
}
