import { schemeOf } from "./target-adapters.js";

/**
 * A bench run's own names on shared servers. A target the bench starts gets a fresh data dir, but
 * Redis and NATS outlive it: two runs (or two benches) with the same FLOODGATE_QUEUE_PREFIX would
 * share JetStream streams and consumers, so one run's worker could take another's orders, and
 * stale keys under the same stock prefix would be read as live stock. So every run that touches a
 * shared server gets prefixes no other run has, and the bench removes what it wrote afterwards.
 */

/** What a run wrote on shared servers, so that it can be removed after the run. */
export interface RunLeftovers {
  /** JetStream streams (their consumers go with them) named for the run's queue prefix. */
  readonly natsStreams: readonly { readonly url: string; readonly queuePrefix: string }[];
  /** Redis keys under a prefix only this run uses. */
  readonly redisKeys: readonly { readonly url: string; readonly prefix: string }[];
  /** Names nothing can list and delete (Memcached keys): they expire with their TTL. */
  readonly expiring: readonly string[];
}

export interface RunNamespace {
  /** The prefix settings to add to the target's environment. */
  readonly env: Readonly<Record<string, string>>;
  readonly leftovers: RunLeftovers;
}

/** The stems used when --target-env names no prefix; a given prefix becomes the stem instead. */
export const DEFAULT_STEMS = {
  FLOODGATE_QUEUE_PREFIX: "bench",
  FLOODGATE_STOCK_PREFIX: "bench:",
  FLOODGATE_CACHE_PREFIX: "bench:",
} as const;

/** Floodgate's FLOODGATE_QUEUE_PREFIX pattern (src/platform/config/settings.ts), 32 characters at most. */
const QUEUE_PREFIX = /^[a-z][a-z0-9_-]{0,31}$/;
/** `<stem>-<tag>`: the stem may use what is left of the 32 characters. */
export const RUN_TAG_LENGTH = 8;
export const MAX_QUEUE_STEM_LENGTH = 32 - RUN_TAG_LENGTH - 1;

/** Why a stem given through --target-env cannot carry a run tag, or null when it can. */
export function queueStemProblem(stem: string): string | null {
  if (stem.length > MAX_QUEUE_STEM_LENGTH || !QUEUE_PREFIX.test(stem)) {
    return `FLOODGATE_QUEUE_PREFIX: the bench appends "-<run tag>" to it, so it must be a lower-case letter followed by at most ${
      MAX_QUEUE_STEM_LENGTH - 1
    } of a-z, 0-9, "_" or "-"; got "${stem}"`;
  }
  return null;
}

const isRedis = (scheme: string | undefined) => scheme === "redis" || scheme === "redis-cluster";

/**
 * The run's prefixes for the shared servers `env` points at. `tag` is unique per run (lower-case
 * hex of RUN_TAG_LENGTH). Pure: the caller starts the target with `{ ...env, ...namespace.env }`.
 *
 * - The queue prefix names JetStream streams and subjects, Redis Streams keys, and the sold-out
 *   broadcast channels, so it is set whenever any of those is on a shared server.
 * - The stock and cache prefixes are set when the stock or the cache is on Redis (or Memcached).
 */
export function runNamespace(env: Readonly<Record<string, string>>, tag: string): RunNamespace {
  if (!new RegExp(`^[0-9a-f]{${RUN_TAG_LENGTH}}$`).test(tag)) {
    throw new RangeError(`run tag must be ${RUN_TAG_LENGTH} lower-case hex digits, got "${tag}"`);
  }
  const queue = schemeOf(env.FLOODGATE_QUEUE_URL);
  const stock = schemeOf(env.FLOODGATE_STOCK_URL);
  const cache = schemeOf(env.FLOODGATE_CACHE_URL);
  const broadcast = schemeOf(env.FLOODGATE_BROADCAST_URL);
  const sharedQueue = queue === "nats" || queue === "redis";
  const sharedNews = isRedis(stock) || sharedQueue || (broadcast !== undefined && broadcast !== "memory");
  const prefixes: Record<string, string> = {};
  const natsStreams: { url: string; queuePrefix: string }[] = [];
  const redisKeys: { url: string; prefix: string }[] = [];
  const expiring: string[] = [];
  if (sharedQueue || sharedNews) {
    const queuePrefix = `${env.FLOODGATE_QUEUE_PREFIX ?? DEFAULT_STEMS.FLOODGATE_QUEUE_PREFIX}-${tag}`;
    prefixes.FLOODGATE_QUEUE_PREFIX = queuePrefix;
    if (queue === "nats") natsStreams.push({ url: env.FLOODGATE_QUEUE_URL!, queuePrefix });
    // Redis Streams keys are `<prefix>:stream:<topic>…` (src/runtime/platform.ts).
    if (queue === "redis") redisKeys.push({ url: env.FLOODGATE_QUEUE_URL!, prefix: `${queuePrefix}:` });
  }
  if (isRedis(stock)) {
    const prefix = `${env.FLOODGATE_STOCK_PREFIX ?? DEFAULT_STEMS.FLOODGATE_STOCK_PREFIX}${tag}:`;
    prefixes.FLOODGATE_STOCK_PREFIX = prefix;
    redisKeys.push({ url: env.FLOODGATE_STOCK_URL!, prefix });
  }
  if (isRedis(cache) || cache === "memcached") {
    const prefix = `${env.FLOODGATE_CACHE_PREFIX ?? DEFAULT_STEMS.FLOODGATE_CACHE_PREFIX}${tag}:`;
    prefixes.FLOODGATE_CACHE_PREFIX = prefix;
    if (cache === "memcached") expiring.push(`Memcached keys under ${prefix} (they expire with their TTL)`);
    else redisKeys.push({ url: env.FLOODGATE_CACHE_URL!, prefix });
  }
  return { env: prefixes, leftovers: { natsStreams, redisKeys, expiring } };
}

/** Nothing to remove. */
export function hasLeftovers(leftovers: RunLeftovers): boolean {
  return leftovers.natsStreams.length > 0 || leftovers.redisKeys.length > 0;
}

/**
 * JetStream stream names for a queue prefix, as the runtime derives them (src/runtime/platform.ts:
 * upper case, "-" as "_", then "_"), e.g. bench-1a2b3c4d → BENCH_1A2B3C4D_orders~requested.
 */
export function jetStreamStreamPrefix(queuePrefix: string): string {
  return `${queuePrefix.toUpperCase().replaceAll("-", "_")}_`;
}

/** A Redis SCAN MATCH pattern for keys starting with `prefix` (glob characters escaped). */
export function redisPrefixPattern(prefix: string): string {
  return `${prefix.replace(/[\\*?[\]^]/g, (c) => `\\${c}`)}*`;
}
