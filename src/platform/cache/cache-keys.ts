/**
 * Cache key names, built so that a Redis Cluster puts the keys that belong together on one slot.
 *
 * Redis Cluster hashes only the part of a key between the first `{` and the next `}` (the hash
 * tag) when there is one. Every key built here starts with the tag `{<namespace>:<id>}`, so:
 *
 * - all versions of one entity — `{product:42}`, `{product:42}:v7`, `{product:42}:v8` — share a
 *   slot (and so a master). A multi-key command or Lua script over one entity (read the current
 *   version and its value, delete the old version while writing the new one) is then legal in a
 *   cluster, where keys on different slots would fail with CROSSSLOT;
 * - different entities (`{product:42}`, `{product:43}`, `{sku:TEE-1}`) hash to different slots,
 *   so keys spread over every master and a hot flash sale does not pin the whole catalog to one.
 *
 * Single Redis and Memcached ignore the braces; the keys work the same there.
 */

/** Namespaces are fixed identifiers chosen in code: lower case, digits, `_`, `.` and `-`. */
const NAMESPACE = /^[a-z][a-z0-9_.-]*$/;

/**
 * `{namespace:id}` or, with a version, `{namespace:id}:v<version>`. The id is percent-encoded, so
 * an id containing `{`, `}` or `:` cannot end the tag early or make two (namespace, id) pairs
 * produce the same key; ordinary ids (SKUs, snowflakes, user ids) stay readable.
 */
export function versionedKey(namespace: string, id: string, version?: number | string): string {
  if (!NAMESPACE.test(namespace)) {
    throw new Error(`cache key namespace "${namespace}" must match ${NAMESPACE}`);
  }
  const tag = `{${namespace}:${encodeURIComponent(id)}}`;
  if (version === undefined) return tag;
  if (
    typeof version === "number" ? !Number.isSafeInteger(version) || version < 0 : !/^[\w.-]+$/.test(version)
  ) {
    throw new Error(`cache key version "${version}" must be a non-negative integer or [A-Za-z0-9_.-]+`);
  }
  return `${tag}:v${version}`;
}
