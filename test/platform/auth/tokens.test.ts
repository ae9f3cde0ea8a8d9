import { createSigner } from "fast-jwt";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_TOKEN_TTL_SECONDS,
  keyIdOf,
  renewingServiceToken,
  SERVICE_TOKEN_TTL_SECONDS,
  TokenService,
} from "../../../src/platform/auth/tokens.js";

const SECRET = "s".repeat(40);
const OLD_SECRET = "o".repeat(40);
const now = () => Math.floor(Date.now() / 1000);
const bearer = (token: string) => `Bearer ${token}`;
const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, number>;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("bearer tokens", () => {
  const tokens = new TokenService(SECRET);

  it("expire: an hour for users and admins by default, five minutes for services", () => {
    const user = claimsOf(tokens.issue({ userId: "u" }));
    expect(user.exp! - user.iat!).toBe(DEFAULT_TOKEN_TTL_SECONDS);
    const service = claimsOf(tokens.issue({ userId: "s", service: true }));
    expect(service.exp! - service.iat!).toBe(SERVICE_TOKEN_TTL_SECONDS);
    expect(tokens.authenticate(bearer(tokens.issue({ userId: "u", admin: true })))).toEqual({
      userId: "u",
      admin: true,
      service: false,
    });
  });

  it("are refused once expired, even after a cached verification", async () => {
    const token = tokens.issue({ userId: "u", ttlSeconds: 1 });
    expect(tokens.authenticate(bearer(token)).userId).toBe("u"); // verified and cached
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect(() => tokens.authenticate(bearer(token))).toThrow(/invalid or expired/);
  });

  it("refuse a token without exp, alg none, another algorithm, and another key", () => {
    const sign = (
      key: string,
      algorithm: "HS256" | "HS512",
      payload: Record<string, unknown>,
      kid = keyIdOf(SECRET),
    ) => createSigner({ key, algorithm, kid })(payload);
    const noExp = sign(SECRET, "HS256", { sub: "u", iat: now() });
    const none = `${b64({ alg: "none", typ: "JWT", kid: keyIdOf(SECRET) })}.${b64({ sub: "u", exp: now() + 60 })}.`;
    const hs512 = sign(SECRET, "HS512", { sub: "u", exp: now() + 60 });
    const otherKey = sign("x".repeat(40), "HS256", { sub: "u", exp: now() + 60 });
    const adminClaimForged = `${tokens.issue({ userId: "u" }).split(".")[0]}.${b64({ sub: "u", admin: true, exp: now() + 60 })}.${tokens.issue({ userId: "u" }).split(".")[2]}`;
    for (const token of [noExp, none, hs512, otherKey, adminClaimForged, "not-a-jwt", ""]) {
      expect(() => tokens.authenticate(bearer(token)), token).toThrow();
    }
    expect(() => tokens.authenticate(undefined)).toThrow();
    expect(() => tokens.authenticate(`Basic ${tokens.issue({ userId: "u" })}`)).toThrow();
  });

  it("rotate by key id: tokens of the previous secret pass while it is configured, and only then", () => {
    const before = new TokenService(OLD_SECRET).issue({ userId: "u" });
    const rotating = new TokenService({ current: SECRET, previous: OLD_SECRET });
    expect(rotating.authenticate(bearer(before)).userId).toBe("u");
    expect(rotating.authenticate(bearer(rotating.issue({ userId: "v" }))).userId).toBe("v");
    expect(
      JSON.parse(Buffer.from(rotating.issue({ userId: "v" }).split(".")[0]!, "base64url").toString()).kid,
    ).toBe(keyIdOf(SECRET));
    expect(() => new TokenService(SECRET).authenticate(bearer(before))).toThrow(/not signed with a key/);
  });

  it("renews a service token once two thirds of its life are gone", () => {
    let clock = 0;
    let issued = 0;
    const counting = Object.create(tokens) as TokenService;
    counting.issue = (options) => {
      issued++;
      return tokens.issue(options);
    };
    const token = renewingServiceToken(counting, () => clock);
    token();
    token();
    expect(issued).toBe(1);
    clock += (SERVICE_TOKEN_TTL_SECONDS * 1000 * 2) / 3 - 1;
    token();
    expect(issued).toBe(1);
    clock += 2;
    token();
    expect(issued).toBe(2);
  });
});
