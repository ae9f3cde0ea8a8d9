import type { MembershipFilter } from "../platform/cache/bloom/membership-filter.js";
import { MemoryBloomFilter } from "../platform/cache/bloom/memory-bloom-filter.js";
import type { Caching } from "../platform/cache/caching.js";
import { LocalInvalidationBus } from "../platform/cache/invalidation-bus.js";
import { LocalLoadLock } from "../platform/cache/load-lock.js";
import { ReadThroughCache } from "../platform/cache/read-through-cache.js";
import type { Config } from "../platform/config/load-config.js";
import type { Logger } from "../platform/observability/logger.js";
import type { Metrics } from "../platform/observability/metrics.js";

/** Caching wired to the adapters config names: in-process only when FLOODGATE_CACHE_URL is unset. */
export async function openCaching(config: Config, metrics: Metrics, logger: Logger): Promise<Caching> {
  const onError = (error: unknown) => logger.warn({ err: error, component: "cache" }, "cache error");
  const caches = new Map<string, ReadThroughCache>();
  const filters = new Map<string, MembershipFilter>();
  const invalidation = new LocalInvalidationBus();
  const lock = new LocalLoadLock();
  void config;
  return {
    readThrough(name) {
      let cache = caches.get(name);
      if (!cache) {
        cache = new ReadThroughCache({ name, metrics, invalidation, lock, onError });
        caches.set(name, cache);
      }
      return cache;
    },
    membershipFilter(name, falsePositiveRate) {
      let filter = filters.get(name);
      if (!filter) {
        filter = new MemoryBloomFilter(falsePositiveRate);
        filters.set(name, filter);
      }
      return filter;
    },
    async close() {
      await Promise.all([...caches.values()].map((cache) => cache.close()));
      await invalidation.close();
    },
  };
}
