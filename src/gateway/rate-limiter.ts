import { LRUCache } from "lru-cache";

/** A token bucket: `ratePerSecond` tokens a second, at most `burst` saved up; one token a request. */
export interface BucketLimit {
  readonly ratePerSecond: number;
  readonly burst: number;
}

export interface RateDecision {
  readonly allowed: boolean;
  /** When refused: how long until a token is there, rounded up to whole seconds (Retry-After). */
  readonly retryAfterSeconds: number;
}

/**
 * Rate-limit buckets, keyed by who is asking (`user:<id>`, `ip:<address>`). The memory one counts
 * one gateway's requests; the Redis one (redis-rate-limiter.ts) those of every gateway sharing it.
 */
export interface RateLimiter {
  take(key: string, limit: BucketLimit): Promise<RateDecision>;
  close(): Promise<void>;
}

export const ALLOWED: RateDecision = { allowed: true, retryAfterSeconds: 0 };

/** Buckets kept at most; the least recently used are dropped (a dropped bucket starts full). */
const MAX_BUCKETS = 100_000;

interface Bucket {
  tokens: number;
  at: number;
}

/** The bucket arithmetic, shared by the memory limiter and mirrored by rate-limit-take-1.lua. */
export function takeToken(bucket: Bucket, limit: BucketLimit, now: number): RateDecision {
  const refilled = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) * limit.ratePerSecond) / 1000);
  bucket.at = now;
  if (refilled >= 1) {
    bucket.tokens = refilled - 1;
    return ALLOWED;
  }
  bucket.tokens = refilled;
  const waitMs = ((1 - refilled) * 1000) / limit.ratePerSecond;
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
}

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
