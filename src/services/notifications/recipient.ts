/**
 * Floodgate keeps no email addresses: users are the `sub` of a bearer token and nothing more. So an
 * email goes to an address derived from the user id by one documented rule,
 * `<userId>@customers.floodgate.invalid`. `.invalid` is reserved (RFC 2606): no such address can
 * reach a real person by accident. A shop that delivers for real maps these addresses in its SMTP
 * relay (a recipient rewrite from its customer table) or replaces this function.
 */
export const RECIPIENT_DOMAIN = "customers.floodgate.invalid";

/** A dot-atom local part (RFC 5322): user ids are `[A-Za-z0-9_.-]`, so only dots can spoil it. */
const DOT_ATOM = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function recipientOf(userId: string): string {
  // A leading, trailing or doubled dot needs the quoted form, which every SMTP server accepts.
  const local = DOT_ATOM.test(userId) ? userId : `"${userId.replace(/["\\]/g, "\\$&")}"`;
  return `${local}@${RECIPIENT_DOMAIN}`;
}
