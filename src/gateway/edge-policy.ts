import type { Principal, TokenService } from "../platform/auth/tokens.js";
import { AppError } from "../platform/errors/catalogue.js";
import type { BucketLimit, RateLimiter } from "../platform/ratelimit/rate-limiter.js";
import type { PublicRoute } from "./public-routes.js";

export interface EdgeLimits {
  /** Per signed-in user; undefined: off. */
  readonly user: BucketLimit | undefined;
  /** Per client address; undefined: off. */
  readonly ip: BucketLimit | undefined;
}

/**
 * What the gateway checks before a request may reach a service: the bearer token (verified here,
 * so a forged or expired one costs no service anything; the services verify again), the route's
 * access level, then the per-address and per-user rate limits.
 */
export class EdgePolicy {
  constructor(
    private readonly tokens: TokenService,
    private readonly limiter: RateLimiter,
    private readonly limits: EdgeLimits,
    private readonly onLimited: (scope: "user" | "ip") => void,
  ) {}

  async admit(route: PublicRoute, authorization: string | undefined, clientIp: string): Promise<void> {
    let principal: Principal | undefined;
    if (authorization !== undefined) {
      principal = this.tokens.authenticate(authorization);
    } else if (route.access !== "anyone") {
      throw new AppError("unauthorized");
    }
    if (route.access === "admin" && !principal?.admin) {
      throw new AppError("forbidden", "This route needs an admin token.");
    }
    const [byIp, byUser] = await Promise.all([
      this.limits.ip ? this.limiter.take(`ip:${clientIp}`, this.limits.ip) : undefined,
      this.limits.user && principal
        ? this.limiter.take(`user:${principal.userId}`, this.limits.user)
        : undefined,
    ]);
    if (byIp && !byIp.allowed) {
      this.onLimited("ip");
      throw new AppError("rate_limited", "Too many requests from this address.", byIp.retryAfterSeconds);
    }
    if (byUser && !byUser.allowed) {
      this.onLimited("user");
      throw new AppError("rate_limited", "Too many requests from this user.", byUser.retryAfterSeconds);
    }
  }
}
