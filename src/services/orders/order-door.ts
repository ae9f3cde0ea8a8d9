import { AppError } from "../../platform/errors/catalogue.js";
import type { Counter } from "../../platform/observability/metrics.js";
import type { BucketLimit, RateLimiter } from "../../platform/ratelimit/rate-limiter.js";

export interface OrderDoorLimits {
  /** Per signed-in user; undefined: off. */
  readonly user: BucketLimit | undefined;
  /** Per client address; undefined: off. */
  readonly ip: BucketLimit | undefined;
}

/**
 * Rate limits on `POST /orders`, checked by the orders service itself: a process that takes
 * clients without the gateway in front is no less protected (the gateway limits too, per route).
 * A refused request costs no reservation, no append, no database.
 */
export class OrderDoor {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly limits: OrderDoorLimits,
    /** orders_rate_limited_total{scope} */
    private readonly limited: Counter<"scope">,
  ) {}

  async admit(userId: string, clientIp: string): Promise<void> {
    const { user, ip } = this.limits;
    const [byIp, byUser] = await Promise.all([
      ip ? this.limiter.take(`order-ip:${clientIp}`, ip) : undefined,
      user ? this.limiter.take(`order-user:${userId}`, user) : undefined,
    ]);
    if (byIp && !byIp.allowed) {
      this.limited.inc({ scope: "ip" });
      throw new AppError("rate_limited", "Too many orders from this address.", byIp.retryAfterSeconds);
    }
    if (byUser && !byUser.allowed) {
      this.limited.inc({ scope: "user" });
      throw new AppError("rate_limited", "Too many orders from this user.", byUser.retryAfterSeconds);
    }
  }
}
