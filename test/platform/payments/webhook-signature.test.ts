import { describe, expect, it } from "vitest";
import { NotificationRejectedError } from "../../../src/platform/payments/payment-provider.js";
import { signNotification, verifySignature } from "../../../src/platform/payments/webhook-signature.js";

const SECRET = "webhook-secret-for-tests-at-least-32-characters";
const BODY = Buffer.from('{"id":"evt_1","type":"payment.succeeded"}');
const NOW = new Date("2026-12-01T12:00:00Z");
const nowSeconds = NOW.getTime() / 1000;

function check(header: string | undefined, body = BODY, now = NOW) {
  return () => verifySignature({ secret: SECRET, rawBody: body, header, now, toleranceSeconds: 300 });
}

function rejection(run: () => void): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof NotificationRejectedError) return error.reason;
    throw error;
  }
}

describe("webhook signatures (HMAC-SHA256 over timestamp.body)", () => {
  it("accepts a notification signed with the secret within 5 minutes, either side of now", () => {
    expect(rejection(check(signNotification(SECRET, BODY, nowSeconds)))).toBeUndefined();
    expect(rejection(check(signNotification(SECRET, BODY, nowSeconds - 299)))).toBeUndefined();
    expect(rejection(check(signNotification(SECRET, BODY, nowSeconds + 299)))).toBeUndefined();
  });

  it("refuses one signed with another secret, or whose body or timestamp was changed", () => {
    expect(rejection(check(signNotification(`${SECRET}x`, BODY, nowSeconds)))).toBe("signature_mismatch");
    const altered = Buffer.from(BODY.toString().replace("evt_1", "evt_2"));
    expect(rejection(check(signNotification(SECRET, BODY, nowSeconds), altered))).toBe("signature_mismatch");
    // Moving the timestamp to make an old notification look fresh breaks the signature.
    const old = signNotification(SECRET, BODY, nowSeconds - 3600);
    const moved = old.replace(`t=${nowSeconds - 3600}`, `t=${nowSeconds}`);
    expect(rejection(check(moved))).toBe("signature_mismatch");
  });

  it("refuses a correctly signed notification older (or newer) than 5 minutes as stale", () => {
    expect(rejection(check(signNotification(SECRET, BODY, nowSeconds - 301)))).toBe("stale");
    expect(rejection(check(signNotification(SECRET, BODY, nowSeconds + 301)))).toBe("stale");
  });

  it("refuses a missing or unreadable header", () => {
    expect(rejection(check(undefined))).toBe("signature_missing");
    expect(rejection(check(""))).toBe("signature_missing");
    expect(rejection(check(`t=${nowSeconds}`))).toBe("signature_missing");
    expect(rejection(check(`t=${nowSeconds},v1=abc`))).toBe("signature_missing");
    expect(rejection(check(`v1=${"0".repeat(64)}`))).toBe("signature_missing");
  });

  it("accepts any one of several v1 signatures (a provider rotating its secret signs with both)", () => {
    const good = signNotification(SECRET, BODY, nowSeconds).split(",v1=")[1];
    const other = signNotification("another-secret-that-is-also-long-enough", BODY, nowSeconds).split(
      ",v1=",
    )[1];
    expect(rejection(check(`t=${nowSeconds},v1=${other},v1=${good}`))).toBeUndefined();
    expect(rejection(check(`t=${nowSeconds},v1=${other}`))).toBe("signature_mismatch");
  });
});
