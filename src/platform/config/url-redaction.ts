/**
 * A server URL as it may appear in a log line or an error message: the password of each
 * `scheme://user:password@host` is replaced by `***`, and a userinfo that is all secret (NATS's
 * `nats://token@host`) is replaced whole. Every server named in the text is redacted (NATS takes
 * several URLs at once; a cluster URL names several hosts).
 */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^/@\s,]*)@/g, (_match, userinfo: string) => {
    const colon = userinfo.indexOf(":");
    return colon < 0 ? "//***@" : `//${userinfo.slice(0, colon)}:***@`;
  });
}
