import type { MembershipFilter } from "../platform/cache/bloom/membership-filter.js";
import { MemoryBloomFilter } from "../platform/cache/bloom/memory-bloom-filter.js";
import { RedisBloomFilter } from "../platform/cache/bloom/redis-bloom-filter.js";
import type { Cache } from "../platform/cache/cache.js";
import type { Caching } from "../platform/cache/caching.js";
import { type InvalidationBus, LocalInvalidationBus } from "../platform/cache/invalidation-bus.js";
import { type LoadLock, LocalLoadLock } from "../platform/cache/load-lock.js";
import { cacheUrlScheme, openCache } from "../platform/cache/open-cache.js";
import { PrefixedCache } from "../platform/cache/prefixed-cache.js";
import { ReadThroughCache } from "../platform/cache/read-through-cache.js";
import { connectRedis, RedisCache } from "../platform/cache/redis-cache.js";
import { RedisInvalidationBus, RedisLoadLock } from "../platform/cache/redis-coordination.js";
import type { Config } from "../platform/config/load-config.js";
import type { Logger } from "../platform/observability/logger.js";
import type { Metrics } from "../platform/observability/metrics.js";
import type { RedisClient } from "../platform/redis/lua-script.js";

interface Wiring {
  readonly enabled: boolean;
  readonly l2?: Cache;
  readonly invalidation: InvalidationBus;
  readonly lock: LoadLock;
  readonly filter: (name: string, falsePositiveRate: number) => MembershipFilter;
  readonly close: () => Promise<void>;
}

/**
 * Caching wired to the adapters FLOODGATE_CACHE_URL names:
 * - unset / memory://: L1 only; invalidation, locks and Bloom filters are in-process;
 * - redis:// and redis-cluster://: Redis as L2, pub/sub invalidation of every process's L1, load
 *   locks and Bloom filters in Redis, all under FLOODGATE_CACHE_PREFIX;
 * - memcached://: Memcached as L2. Memcached has no pub/sub, so another process's L1 learns of a
 *   write only when its short L1 TTL runs out (counted from the read that filled it, so it bounds
 *   staleness once the write's retirement is in Memcached), and load locks and Bloom filters stay
 *   per process;
 * - none://: no caching at all (every read to the database: the benchmark baseline).
 */
export async function openCaching(config: Config, metrics: Metrics, logger: Logger): Promise<Caching> {
  const onError = (error: unknown) => logger.warn({ err: error, component: "cache" }, "cache error");
  const wiring = await wire(config, onError);
  const caches = new Map<string, ReadThroughCache>();
  const filters = new Map<string, MembershipFilter>();
  return {
    readThrough(name, { longestTtlMs }) {
      let cache = caches.get(name);
      if (!cache) {
        cache = new ReadThroughCache({
          name,
          metrics,
          invalidation: wiring.invalidation,
          lock: wiring.lock,
          onError,
          enabled: wiring.enabled,
          longestTtlMs,
          ...(wiring.l2 ? { l2: wiring.l2 } : {}),
        });
        caches.set(name, cache);
      }
      return cache;
    },
    membershipFilter(name, falsePositiveRate) {
      let filter = filters.get(name);
      if (!filter) {
        filter = wiring.filter(name, falsePositiveRate);
        filters.set(name, filter);
      }
      return filter;
    },
    async close() {
      await Promise.all([...caches.values()].map((cache) => cache.close()));
      await wiring.close();
    },
  };
}

async function wire(config: Config, onError: (error: unknown) => void): Promise<Wiring> {
  const url = config.cacheUrl;
  const scheme = cacheUrlScheme(url) ?? "memory";
  const local = {
    invalidation: new LocalInvalidationBus(),
    lock: new LocalLoadLock(),
    filter: (_name: string, rate: number) => new MemoryBloomFilter(rate),
  };
  const options = { onError: (error: Error) => onError(error) };
  switch (scheme) {
    case "none":
      return { enabled: false, ...local, close: async () => {} };
    case "memory":
      return { enabled: true, ...local, close: async () => {} };
    case "memcached": {
      const l2 = new PrefixedCache(await openCache(url, options), config.cachePrefix);
      return { enabled: true, l2, ...local, close: () => l2.close() };
    }
    default: {
      // redis:// or redis-cluster://. Three connections: the cache's, one for locks, scripts and
      // publishing, and one that only listens (a subscribed connection can do nothing else).
      const prefix = config.cachePrefix;
      const l2 = new PrefixedCache(new RedisCache(await connectRedis(url!, options), options), prefix);
      const commands: RedisClient = await connectRedis(url!, options);
      const listener: RedisClient = await connectRedis(url!, options);
      return {
        enabled: true,
        l2,
        invalidation: new RedisInvalidationBus(commands, listener, prefix),
        lock: new RedisLoadLock(commands, prefix),
        filter: (name, rate) => new RedisBloomFilter(commands, `${prefix}${name}`, rate),
        close: async () => {
          await l2.close();
          listener.disconnect();
          commands.disconnect();
        },
      };
    }
  }
}
