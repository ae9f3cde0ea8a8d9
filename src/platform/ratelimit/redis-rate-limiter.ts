import { fileURLToPath } from "node:url";
import type { RedisClient } from "../redis/lua-script.js";
import { LuaScript } from "../redis/lua-script.js";
import { MemoryRateLimiter } from "./memory-rate-limiter.js";
import type { BucketLimit, RateDecision, RateLimiter } from "./rate-limiter.js";

const TAKE = new LuaScript(fileURLToPath(new URL("./rate-limit-take-1.lua", import.meta.url)));

/**
 * Buckets in Redis, one script call per bucket, so every process (gateway or intake) counts
 * against the same limits. While Redis cannot answer, each process limits on its own memory
 * instead of letting everything through or refusing everything: a limit that is per-process for a
 * while is better than none, and better than an outage of the front door.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly fallback = new MemoryRateLimiter();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly onError: (error: Error) => void,
    /** A take that Redis has not answered by then falls back to memory (the script may still run). */
    private readonly takeTimeoutMs = 250,
  ) {}

  async take(key: string, limit: BucketLimit): Promise<RateDecision> {
    try {
      // The hash tag keeps a bucket's key on one cluster slot (it is one key anyway).
      const reply = (await withTimeout(
        TAKE.run(this.redis, [`${this.prefix}ratelimit:{${key}}`], [limit.ratePerSecond, limit.burst]),
        this.takeTimeoutMs,
      )) as [number, number];
      if (reply[0] === 1) return { allowed: true, retryAfterSeconds: 0 };
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(reply[1] / 1000)) };
    } catch (error) {
      this.onError(error as Error);
      return this.fallback.takeNow(key, limit);
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** `work`, or a rejection once `ms` have passed without its answer. */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`rate-limit store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
