import type { Cache } from "./cache.js";
import { openMemcachedCache } from "./memcached-cache.js";
import { MemoryCache } from "./memory-cache.js";
import { openRedisCache } from "./redis-cache.js";
import { type RemoteCacheOptions, redactUrl } from "./remote-cache.js";

export interface OpenCacheOptions extends RemoteCacheOptions {
  /** Entries the in-process cache keeps (memory:// only). Default: MemoryCache's. */
  readonly maxEntries?: number;
}

/** The URL schemes `openCache` understands. */
export const CACHE_URL_SCHEMES = ["memory", "redis", "redis-cluster", "memcached"] as const;

/**
 * The Cache adapter a URL names:
 * - unset or `memory://`: the in-process LRU (embedded mode);
 * - `redis://[user[:password]@]host[:port][/db]`: one Redis server;
 * - `redis-cluster://[user[:password]@]host:port,host:port,…`: a Redis Cluster (a few nodes are
 *   enough, the rest are discovered);
 * - `memcached://[user:password@]host[:port][,host[:port]…]`: Memcached servers.
 *
 * A networked adapter is connected before this resolves, so a wrong URL or an unreachable server
 * fails at startup (after `connectTimeoutMs`) with an error that names the server but never the
 * password. After that, an outage makes calls reject quickly, and the adapter reconnects by
 * itself. Only the runtime calls this; services see the Cache port.
 */
export async function openCache(url: string | undefined, options: OpenCacheOptions = {}): Promise<Cache> {
  switch (cacheUrlScheme(url)) {
    case "memory":
      return new MemoryCache(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries });
    case "redis":
    case "redis-cluster":
      return openRedisCache(url!, options);
    case "memcached":
      return openMemcachedCache(url!, options);
    default:
      throw new Error(
        `cache URL ${redactUrl(url!)}: the scheme must be one of ${CACHE_URL_SCHEMES.join(", ")}`,
      );
  }
}

/**
 * The scheme of a cache URL, lower case, without `://` ("memory" when the URL is unset or empty);
 * undefined when there is none. Use this rather than `new URL(url).protocol`: the WHATWG parser
 * throws on the host lists of `redis-cluster://h:p,h:p` and `memcached://h:p,h:p`.
 */
export function cacheUrlScheme(url: string | undefined): string | undefined {
  if (url === undefined || url.trim() === "") return "memory";
  return /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
}
