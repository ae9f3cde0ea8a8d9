import { createHmac, timingSafeEqual } from "node:crypto";
import { NotificationRejectedError } from "./payment-provider.js";

/**
 * The signature on a payment notification, in the scheme Stripe made familiar:
 * `Floodgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`. The timestamp
 * is inside the signed bytes, so it cannot be changed to make an old notification look fresh, and
 * a notification captured and sent again later is refused once it is older than the tolerance.
 * Several `v1=` entries may be present (a provider rotating its secret signs with both); one match
 * is enough.
 */
export const SIGNATURE_HEADER = "floodgate-signature";

/** The header value for `body` signed at `timestampSeconds`. */
export function signNotification(secret: string, body: string | Buffer, timestampSeconds: number): string {
  return `t=${timestampSeconds},v1=${hmacHex(secret, timestampSeconds, body)}`;
}

export interface SignatureCheck {
  readonly secret: string;
  readonly rawBody: Buffer;
  readonly header: string | string[] | undefined;
  readonly now: Date;
  readonly toleranceSeconds: number;
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/** Throws NotificationRejectedError unless `header` signs `rawBody` with `secret`, within the tolerance. */
export function verifySignature(check: SignatureCheck): void {
  const header = Array.isArray(check.header) ? check.header[0] : check.header;
  if (!header) {
    throw new NotificationRejectedError("signature_missing", `The ${SIGNATURE_HEADER} header is missing.`);
  }
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const part of header.split(",")) {
    const [key, value] = part.trim().split("=", 2);
    if (key === "t" && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === "v1" && value && HEX_SHA256.test(value)) signatures.push(value);
  }
  if (timestamp === undefined || signatures.length === 0) {
    throw new NotificationRejectedError(
      "signature_missing",
      `The ${SIGNATURE_HEADER} header must be t=<unix seconds>,v1=<64 hex digits>.`,
    );
  }
  // Compared before the timestamp, so a forger learns nothing about the tolerance from the answer.
  const expected = Buffer.from(hmacHex(check.secret, timestamp, check.rawBody), "hex");
  // Every candidate is compared in constant time, and all of them always: which one matched, or how
  // much of one did, must not show in the response time.
  let matched = false;
  for (const signature of signatures) {
    if (timingSafeEqual(expected, Buffer.from(signature, "hex"))) matched = true;
  }
  if (!matched) {
    throw new NotificationRejectedError("signature_mismatch", "No signature matches the body.");
  }
  const ageSeconds = check.now.getTime() / 1000 - timestamp;
  if (Math.abs(ageSeconds) > check.toleranceSeconds) {
    throw new NotificationRejectedError(
      "stale",
      `The notification was signed ${Math.round(ageSeconds)} s ago; at most ${check.toleranceSeconds} s is accepted.`,
    );
  }
}

function hmacHex(secret: string, timestampSeconds: number, body: string | Buffer): string {
  return createHmac("sha256", secret).update(`${timestampSeconds}.`).update(body).digest("hex");
}
