import { cacheUrlScheme } from "../cache/open-cache.js";
import { connectRedis } from "../cache/redis-cache.js";
import { MemoryRateLimiter } from "./memory-rate-limiter.js";
import type { RateLimiter } from "./rate-limiter.js";
import { RedisRateLimiter } from "./redis-rate-limiter.js";

/** A rate-limit call is one short script; past this the caller limits on its own memory. */
const RATE_LIMIT_TIMEOUT_MS = 250;
/**
 * Connecting (and ioredis's ready check) gets the cache's usual patience: a loaded machine can
 * take longer than a take's bound to answer the first INFO, and failing start-up for that would
 * make the limiter, a best-effort guard, take the process down.
 */
const CONNECT_COMMAND_TIMEOUT_MS = 2_000;
/** How long start-up waits for the store; past it the process limits on its own memory. */
const CONNECT_TIMEOUT_MS = 10_000;

/** True for the URLs a Redis rate limiter can use. */
export function isRedisUrl(url: string | undefined): boolean {
  const scheme = cacheUrlScheme(url);
  return scheme === "redis" || scheme === "redis-cluster";
}

/**
 * Buckets in the Redis at `url` (shared by every process using it), or, without one, in this
 * process's memory. `onWarning` hears of an unreachable Redis, at most once a second.
 */
export async function openRateLimiter(
  url: string | undefined,
  options: { readonly prefix: string; readonly onWarning: (error: Error) => void },
): Promise<RateLimiter> {
  if (!url || !isRedisUrl(url)) return new MemoryRateLimiter();
  let lastReport = 0;
  const onError = (error: Error) => {
    // At most one line a second: an outage must not flood the log at the request rate.
    if (Date.now() - lastReport < 1000) return;
    lastReport = Date.now();
    options.onWarning(error);
  };
  try {
    const redis = await connectRedis(url, {
      commandTimeoutMs: CONNECT_COMMAND_TIMEOUT_MS,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      onError,
    });
    return new RedisRateLimiter(redis, options.prefix, onError, RATE_LIMIT_TIMEOUT_MS);
  } catch (error) {
    // A best-effort guard must not keep the process from starting: per-process limits until a restart.
    options.onWarning(error as Error);
    return new MemoryRateLimiter();
  }
}
