import { createHash } from "node:crypto";
import { createSigner, createVerifier } from "fast-jwt";
import { AppError } from "../errors/catalogue.js";

/** Who is calling: a user, an admin, or another Floodgate service (internal routes). */
export interface Principal {
  readonly userId: string;
  readonly admin: boolean;
  readonly service: boolean;
}

export const USER_ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

/** Users' and admins' tokens live an hour unless asked otherwise (`floodgate token --ttl`). */
export const DEFAULT_TOKEN_TTL_SECONDS = 3600;
/** Tokens services call each other with: short-lived, renewed by the caller well before they end. */
export const SERVICE_TOKEN_TTL_SECONDS = 300;

interface Claims {
  sub?: unknown;
  admin?: unknown;
  svc?: unknown;
}

/**
 * The secrets tokens are signed with: new tokens with `current`; during a rotation, tokens signed
 * with `previous` are still accepted until they expire (at most their TTL after the switch).
 */
export interface TokenSecrets {
  readonly current: string;
  readonly previous?: string | undefined;
}

/** A secret's key id: short, and reveals nothing of the secret. */
export function keyIdOf(secret: string): string {
  return createHash("sha256").update(secret).digest("base64url").slice(0, 12);
}

/**
 * HS256 bearer tokens (fast-jwt). Every token expires (`exp` is required) and names the key it was
 * signed with (`kid`), so secrets rotate: the verifier picks the secret by kid, and only HS256 with
 * a known secret passes (`alg: none`, other algorithms and other keys are refused). Verification
 * results are cached (keyed by the token, never past its expiry) because a flash sale sends the
 * same user's token many times and signature checks are the costliest part of a request the cache
 * then answers.
 */
export class TokenService {
  private readonly sign: (payload: Record<string, unknown>) => string;
  private readonly verifiers: ReadonlyMap<string, (token: string) => Claims>;

  constructor(secrets: string | TokenSecrets) {
    const { current, previous } =
      typeof secrets === "string" ? { current: secrets, previous: undefined } : secrets;
    this.sign = createSigner({ key: current, algorithm: "HS256", kid: keyIdOf(current) });
    const verifierFor = (key: string) =>
      createVerifier({ key, algorithms: ["HS256"], requiredClaims: ["exp"], cache: 10_000 }) as (
        token: string,
      ) => Claims;
    this.verifiers = new Map(
      [current, ...(previous ? [previous] : [])].map((secret) => [keyIdOf(secret), verifierFor(secret)]),
    );
  }

  issue(options: { userId: string; admin?: boolean; service?: boolean; ttlSeconds?: number }): string {
    if (!USER_ID_PATTERN.test(options.userId)) {
      throw new RangeError(`user id must match ${USER_ID_PATTERN}, got "${options.userId}"`);
    }
    const ttl =
      options.ttlSeconds ?? (options.service ? SERVICE_TOKEN_TTL_SECONDS : DEFAULT_TOKEN_TTL_SECONDS);
    if (!(Number.isInteger(ttl) && ttl > 0))
      throw new RangeError(`token ttl must be a positive integer, got ${ttl}`);
    const now = Math.floor(Date.now() / 1000);
    return this.sign({
      sub: options.userId,
      ...(options.admin ? { admin: true } : {}),
      ...(options.service ? { svc: true } : {}),
      iat: now,
      exp: now + ttl,
    });
  }

  /** The principal of an `Authorization` header value; throws `unauthorized` when it is not valid. */
  authenticate(header: string | undefined): Principal {
    if (!header?.startsWith("Bearer ")) throw new AppError("unauthorized");
    const token = header.slice(7).trim();
    const verify = this.verifiers.get(keyIdOfToken(token) ?? "");
    if (!verify)
      throw new AppError("unauthorized", "The bearer token is not signed with a key this server holds.");
    let claims: Claims;
    try {
      claims = verify(token);
    } catch {
      throw new AppError("unauthorized", "The bearer token is invalid or expired.");
    }
    if (typeof claims.sub !== "string" || !USER_ID_PATTERN.test(claims.sub)) {
      throw new AppError("unauthorized", "The bearer token names no valid user.");
    }
    return { userId: claims.sub, admin: claims.admin === true, service: claims.svc === true };
  }
}

/** The `kid` in a JWT's header, without verifying anything (the verifier then does). */
function keyIdOfToken(token: string): string | undefined {
  const dot = token.indexOf(".");
  if (dot <= 0 || dot > 512) return undefined;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, dot), "base64url").toString("utf8")) as {
      kid?: unknown;
    };
    return typeof header.kid === "string" ? header.kid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A service token for calls between services, issued when first needed and again when less than a
 * third of its life is left, so a long-running process never sends an expired one.
 */
export function renewingServiceToken(tokens: TokenService, now: () => number = Date.now): () => string {
  let token = "";
  let renewAt = 0;
  return () => {
    if (now() >= renewAt) {
      token = tokens.issue({ userId: "floodgate-service", service: true });
      renewAt = now() + (SERVICE_TOKEN_TTL_SECONDS * 1000 * 2) / 3;
    }
    return token;
  };
}
