import { createSigner, createVerifier } from "fast-jwt";
import { AppError } from "../errors/catalogue.js";

/** Who is calling: a user, an admin, or another Floodgate service (internal routes). */
export interface Principal {
  readonly userId: string;
  readonly admin: boolean;
  readonly service: boolean;
}

export const USER_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

interface Claims {
  sub?: unknown;
  admin?: unknown;
  svc?: unknown;
}

/**
 * HS256 bearer tokens (fast-jwt). Verification results are cached (keyed by the token) because a
 * flash sale sends the same user's token many times and signature checks are the costliest part
 * of a request that the cache then answers.
 */
export class TokenService {
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly verify: (token: string) => Claims;

  constructor(secret: string) {
    this.sign = createSigner({ key: secret, algorithm: "HS256" });
    this.verify = createVerifier({ key: secret, algorithms: ["HS256"], cache: 10_000 });
  }

  issue(options: { userId: string; admin?: boolean; service?: boolean; ttlSeconds?: number }): string {
    if (!USER_ID_PATTERN.test(options.userId)) {
      throw new RangeError(`user id must match ${USER_ID_PATTERN}, got "${options.userId}"`);
    }
    const now = Math.floor(Date.now() / 1000);
    return this.sign({
      sub: options.userId,
      ...(options.admin ? { admin: true } : {}),
      ...(options.service ? { svc: true } : {}),
      iat: now,
      ...(options.ttlSeconds ? { exp: now + options.ttlSeconds } : {}),
    });
  }

  /** The principal of an `Authorization` header value; throws `unauthorized` when it is not valid. */
  authenticate(header: string | undefined): Principal {
    if (!header?.startsWith("Bearer ")) throw new AppError("unauthorized");
    let claims: Claims;
    try {
      claims = this.verify(header.slice(7).trim());
    } catch {
      throw new AppError("unauthorized", "The bearer token is invalid or expired.");
    }
    if (typeof claims.sub !== "string" || !USER_ID_PATTERN.test(claims.sub)) {
      throw new AppError("unauthorized", "The bearer token names no valid user.");
    }
    return { userId: claims.sub, admin: claims.admin === true, service: claims.svc === true };
  }
}
