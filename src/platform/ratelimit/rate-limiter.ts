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
 * Rate-limit buckets port, keyed by who is asking (`user:<id>`, `ip:<address>`). The memory
 * adapter counts one process's requests; the Redis one (redis-rate-limiter.ts) those of every
 * process sharing it. Used by the gateway and by the order intake's own door.
 */
export interface RateLimiter {
  take(key: string, limit: BucketLimit): Promise<RateDecision>;
  close(): Promise<void>;
}

export const ALLOWED: RateDecision = { allowed: true, retryAfterSeconds: 0 };

export interface Bucket {
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
