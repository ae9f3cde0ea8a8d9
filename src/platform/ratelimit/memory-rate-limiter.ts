import { LRUCache } from "lru-cache";
import {
  type Bucket,
  type BucketLimit,
  type RateDecision,
  type RateLimiter,
  takeToken,
} from "./rate-limiter.js";

/** Buckets kept at most; the least recently used are dropped (a dropped bucket starts full). */
const MAX_BUCKETS = 100_000;

export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new LRUCache<string, Bucket>({ max: MAX_BUCKETS });

  constructor(private readonly now: () => number = Date.now) {}

  async take(key: string, limit: BucketLimit): Promise<RateDecision> {
    return this.takeNow(key, limit);
  }

  /** Synchronous form, for the Redis limiter's fallback while Redis is unreachable. */
  takeNow(key: string, limit: BucketLimit): RateDecision {
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: limit.burst, at: now };
      this.buckets.set(key, bucket);
    }
    return takeToken(bucket, limit, now);
  }

  async close(): Promise<void> {
    this.buckets.clear();
  }
}
