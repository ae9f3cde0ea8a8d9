import type { MembershipFilter } from "./bloom/membership-filter.js";
import type { ReadThroughCache } from "./read-through-cache.js";

/**
 * What services get for caching: named read-through caches and membership filters, already wired
 * by the runtime to the configured adapters (in-process, Redis, Redis Cluster, Memcached).
 */
export interface Caching {
  /**
   * `longestTtlMs`: the longest TTL the service gives this cache's entries, from any process: how
   * long a writer must keep refusing an older version L2 may give back (see ReadThroughCache).
   */
  readThrough(name: string, options: { readonly longestTtlMs: number }): ReadThroughCache;
  /** A filter shared by every process of the deployment when the cache is Redis; in-process otherwise. */
  membershipFilter(name: string, falsePositiveRate: number): MembershipFilter;
  close(): Promise<void>;
}
