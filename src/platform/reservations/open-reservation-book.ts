import { cacheUrlScheme } from "../cache/open-cache.js";
import { connectRedis } from "../cache/redis-cache.js";
import { MemoryReservationBook } from "./memory-reservation-book.js";
import { RedisReservationBook } from "./redis-reservation-book.js";
import type { ReservationBook } from "./reservation-book.js";

export interface ReservationBookOptions {
  /** Before every Redis key, so deployments can share a server. */
  readonly prefix: string;
  /** Connection errors (they never crash the process; the failing calls reject). */
  readonly onError?: (error: Error) => void;
}

/**
 * A reservation script is one short round trip; this bounds how long a hung server can hold a
 * buyer. A reserve that times out may still have run: the buyer is told to retry (503), and the
 * retry with the same idempotency key finds the reservation instead of taking stock twice.
 */
const COMMAND_TIMEOUT_MS = 2000;

/** `memory://` or unset: this process's memory; `redis://h:p` or `redis-cluster://h:p,h:p,…`. */
export async function openReservationBook(
  url: string | undefined,
  options: ReservationBookOptions,
): Promise<ReservationBook> {
  const scheme = cacheUrlScheme(url);
  if (scheme === "memory") return new MemoryReservationBook();
  if (scheme === "redis" || scheme === "redis-cluster") {
    const redis = await connectRedis(url!, {
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
      ...(options.onError ? { onError: options.onError } : {}),
    });
    return new RedisReservationBook(redis, options.prefix);
  }
  throw new Error(`stock URL scheme ${scheme}:// is not one of memory, redis, redis-cluster`);
}
