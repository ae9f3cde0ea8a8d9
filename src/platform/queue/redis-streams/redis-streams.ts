import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { Redis, type RedisOptions } from "ioredis";
import { redactUrl } from "../../config/url-redaction.js";
import { replayDeadLetters } from "../dead-letter-replay.js";
import { assertGroupOptions } from "../group-options.js";
import type {
  AppendOptions,
  ConsumerGroup,
  DeadLetter,
  DeadLetterQuery,
  DeadLetterSelection,
  GroupOptions,
  ReplayOptions,
  ReplayResult,
  Stream,
  TopicStats,
} from "../stream.js";
import { RedisDeadLetters } from "./dead-letters.js";
import { countRedelivered, readEntriesAdded, readGroups } from "./group-info.js";
import { assertGroupName, dedupKey, delayedKey, streamKey } from "./keys.js";
import { loadStreamScripts, type StreamScripts } from "./lua-scripts.js";
import { type RedisGroupHost, RedisStreamsConsumerGroup } from "./redis-consumer-group.js";
import { asFieldMap, asText } from "./replies.js";

export interface RedisStreamsOptions {
  /** Prepended to every key (`floodgate:stream:orders.requested`). Default "floodgate:stream:". */
  readonly keyPrefix?: string;
  /**
   * Bound on every non-blocking command: an append rejects if Redis has not confirmed it within
   * this time (for instance while it is down), and so do ack, nak and lag. Default 5 s.
   */
  readonly requestTimeoutMs?: number;
  /** How long a `dedupId` is remembered. Default 2 minutes. */
  readonly dedupWindowMs?: number;
  /**
   * Trim each stream to about this many entries on append (XADD MAXLEN ~). Default 0: never.
   * Trimming is blind to consumer groups: it drops entries no group has read yet, and entries
   * still pending are lost from under their group. A queue of accepted orders must not do that,
   * so it is off unless an operator opts in with a length far above any backlog.
   */
  readonly maxLength?: number;
  /**
   * Longest a fetch blocks on new entries before it checks for due redeliveries (expired
   * visibility, nak delays) again; fetch uses less when the visibility timeout is short.
   * Default 1 s.
   */
  readonly redeliveryCheckMs?: number;
  /** Upper bound of the pause between reconnect attempts; the client retries forever. Default 1 s. */
  readonly reconnectMaxDelayMs?: number;
  /** Receives non-fatal problems: unsafe persistence settings, failed dead-letter moves. */
  readonly onWarning?: (message: string) => void;
}

type Settings = Required<Omit<RedisStreamsOptions, "onWarning">>;

const DEFAULTS: Settings = {
  keyPrefix: "floodgate:stream:",
  requestTimeoutMs: 5_000,
  dedupWindowMs: 2 * 60 * 1000,
  maxLength: 0,
  redeliveryCheckMs: 1_000,
  reconnectMaxDelayMs: 1_000,
};

/** XINFO GROUPS `lag` and XINFO STREAM `entries-added` arrived in 7.0. */
const MINIMUM_REDIS_VERSION = [7, 0, 0] as const;

/**
 * Opens the Redis Streams adapter of the Stream port (one Redis server, not Redis Cluster: the
 * dead-letter move touches two topics' streams in one script).
 *
 * Layout: one stream per topic (entries carry the message in field `d`), one Redis consumer group
 * per group, created from the start of the stream. See RedisStreamsConsumerGroup for delivery,
 * redelivery and dead-lettering, and keys.ts for every key used.
 *
 * Durability: an append resolves when Redis has answered the XADD. Redis acknowledges a write
 * before it is on disk unless it runs with `appendonly yes` and `appendfsync always`, which
 * makes it fsync the AOF before replying (docs/operations.md, "Queue durability"); this function
 * warns when the server says otherwise. With replicas, a failover can still lose the writes the
 * old primary had not yet replicated.
 */
export async function openRedisStreams(url: string, options: RedisStreamsOptions = {}): Promise<Stream> {
  const settings = resolveSettings(options);
  const warn = options.onWarning ?? (() => undefined);
  const connectionOptions: RedisOptions = {
    // Plain RESP2 replies: the same shapes from every Redis version, nothing to negotiate.
    protocol: 2,
    connectionName: "floodgate-stream",
    commandTimeout: settings.requestTimeoutMs,
    // Commands issued while disconnected wait for the reconnect, bounded by commandTimeout,
    // instead of failing after an arbitrary number of reconnect attempts.
    maxRetriesPerRequest: null,
    // A command written before the connection dropped may well have been executed (and its
    // caller already told it failed, after commandTimeout): sending it again after the reconnect
    // would append the same message a second time. Such commands fail instead.
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(attempt * 50, settings.reconnectMaxDelayMs),
    lazyConnect: true,
  };
  const redis = new Redis(url, connectionOptions);
  // Connection errors surface through the commands that fail; without a listener ioredis would
  // also print every failed reconnect attempt.
  redis.on("error", () => undefined);
  try {
    await redis.connect();
    await checkServer(redis, warn);
    const scripts = await loadStreamScripts(redis);
    return new RedisStreams(url, redis, connectionOptions, scripts, settings, warn);
  } catch (error) {
    redis.disconnect();
    throw new Error(`Could not open Redis Streams at ${redactUrl(url)}: ${String(error)}`, { cause: error });
  }
}

function resolveSettings(options: RedisStreamsOptions): Settings {
  const settings: Settings = {
    keyPrefix: options.keyPrefix ?? DEFAULTS.keyPrefix,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
    dedupWindowMs: options.dedupWindowMs ?? DEFAULTS.dedupWindowMs,
    maxLength: options.maxLength ?? DEFAULTS.maxLength,
    redeliveryCheckMs: options.redeliveryCheckMs ?? DEFAULTS.redeliveryCheckMs,
    reconnectMaxDelayMs: options.reconnectMaxDelayMs ?? DEFAULTS.reconnectMaxDelayMs,
  };
  for (const name of [
    "requestTimeoutMs",
    "dedupWindowMs",
    "redeliveryCheckMs",
    "reconnectMaxDelayMs",
  ] as const) {
    const value = settings[name];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`Redis Streams option ${name} must be a positive integer, got ${value}`);
    }
  }
  if (!Number.isSafeInteger(settings.maxLength) || settings.maxLength < 0) {
    throw new RangeError(
      `Redis Streams option maxLength must be 0 (off) or positive, got ${settings.maxLength}`,
    );
  }
  return settings;
}

async function checkServer(redis: Redis, warn: (message: string) => void): Promise<void> {
  const info = asText(await redis.call("INFO", "server"), "INFO server");
  const version = /^redis_version:(\S+)/m.exec(info)?.[1] ?? "unknown";
  const parts = version.split(".").map(Number);
  const [major = 0, minor = 0] = parts;
  if (
    major < MINIMUM_REDIS_VERSION[0] ||
    (major === MINIMUM_REDIS_VERSION[0] && minor < MINIMUM_REDIS_VERSION[1])
  ) {
    throw new Error(
      `the Redis Streams adapter needs Redis ${MINIMUM_REDIS_VERSION.join(".")} or later, got ${version}`,
    );
  }
  let config: Map<string, unknown>;
  try {
    config = asFieldMap(
      await redis.call("CONFIG", "GET", "appendonly", "appendfsync", "maxmemory-policy"),
      "CONFIG GET",
    );
  } catch (error) {
    warn(
      `Redis Streams: could not read the server's settings (${String(error)}); make sure it runs with ` +
        "appendonly yes, appendfsync always and no allkeys-* eviction policy, see docs/operations.md",
    );
    return;
  }
  const appendOnly = asText(config.get("appendonly") ?? "", "appendonly");
  const fsync = asText(config.get("appendfsync") ?? "", "appendfsync");
  const eviction = asText(config.get("maxmemory-policy") ?? "", "maxmemory-policy");
  if (appendOnly !== "yes" || fsync !== "always") {
    warn(
      `Redis Streams: the server runs with appendonly ${appendOnly} and appendfsync ${fsync}, so an ` +
        "acknowledged append can be lost in a crash; use appendonly yes and appendfsync always, " +
        "see docs/operations.md",
    );
  }
  if (eviction.startsWith("allkeys-")) {
    // Streams carry no TTL, so volatile-* policies never evict them; allkeys-* ones may.
    warn(
      `Redis Streams: the server's maxmemory-policy is ${eviction}, which can evict a topic's whole ` +
        "stream under memory pressure; use noeviction (and a separate Redis for caching), see docs/operations.md",
    );
  }
}

class RedisStreams implements Stream, RedisGroupHost {
  private readonly groups = new Map<string, RedisStreamsConsumerGroup>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    readonly redis: Redis,
    private readonly connectionOptions: RedisOptions,
    readonly scripts: StreamScripts,
    private readonly settings: Settings,
    private readonly warnListener: (message: string) => void,
  ) {}

  append(topic: string, data: Uint8Array, options?: AppendOptions): Promise<void> {
    if (this.closing !== undefined) {
      return Promise.reject(this.closedError());
    }
    let key: string;
    try {
      key = streamKey(this.settings.keyPrefix, topic);
    } catch (error) {
      return Promise.reject(error);
    }
    const payload = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const { maxLength } = this.settings;
    const headers = options?.headers ? JSON.stringify(options.headers) : "";
    if (options?.dedupId === undefined) {
      const trim = maxLength > 0 ? ["MAXLEN", "~", maxLength] : [];
      const headerField = headers ? ["h", headers] : [];
      return this.redis
        .callBuffer("XADD", key, ...trim, "*", "d", payload, ...headerField)
        .then(() => undefined);
    }
    return this.scripts.appendDeduplicated
      .run(
        this.redis,
        [key, dedupKey(this.settings.keyPrefix, topic, options.dedupId)],
        [payload, this.settings.dedupWindowMs, maxLength, headers],
      )
      .then(() => undefined);
  }

  group(topic: string, group: string, options: GroupOptions): ConsumerGroup {
    if (this.closing !== undefined) {
      throw this.closedError();
    }
    assertGroupName(group);
    assertGroupOptions(group, options);
    const { keyPrefix } = this.settings;
    const deadLetterTopic = options.deadLetterTopic ?? `${topic}.dead`;
    const keys = {
      stream: streamKey(keyPrefix, topic),
      delayed: delayedKey(keyPrefix, topic, group),
      deadLetter: streamKey(keyPrefix, deadLetterTopic),
    };
    if (deadLetterTopic === topic) {
      throw new RangeError(`Consumer group "${group}": the dead-letter topic must differ from "${topic}"`);
    }
    // One instance per group in this process (the first caller's options win), like the embedded log.
    const key = groupKey(topic, group);
    const existing = this.groups.get(key);
    if (existing !== undefined) {
      return existing;
    }
    const created = new RedisStreamsConsumerGroup({
      host: this,
      topic,
      group,
      options,
      deadLetterTopic,
      consumer: `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`,
      keys,
      // Short visibility timeouts need redeliveries noticed sooner than the default check.
      redeliveryCheckMs: Math.max(
        10,
        Math.min(this.settings.redeliveryCheckMs, Math.floor(options.visibilityTimeoutMs / 4)),
      ),
    });
    this.groups.set(key, created);
    return created;
  }

  async stats(topic: string): Promise<TopicStats> {
    this.throwIfClosed();
    const key = streamKey(this.settings.keyPrefix, topic);
    const [appended, groups, deadLetters] = await Promise.all([
      readEntriesAdded(this.redis, key),
      readGroups(this.redis, key),
      this.deadLetterSource(topic).count(),
    ]);
    return {
      topic,
      appended,
      deadLetters,
      // Every group of the stream, including groups no process has open right now.
      groups: await Promise.all(
        groups.map(async (group) => ({
          group: group.name,
          lag: group.undelivered + group.pending,
          inFlight: group.pending,
          redelivered: group.pending === 0 ? 0 : await countRedelivered(this.redis, key, group.name),
        })),
      ),
    };
  }

  async deadLetters(topic: string, query: DeadLetterQuery): Promise<DeadLetter[]> {
    this.throwIfClosed();
    return this.deadLetterSource(topic).list(query.after, query.limit);
  }

  async replayDeadLetters(
    topic: string,
    selection: DeadLetterSelection,
    options?: ReplayOptions,
  ): Promise<ReplayResult> {
    this.throwIfClosed();
    return replayDeadLetters(this.deadLetterSource(topic), selection, options);
  }

  /** Closes the groups (their fetches reject, unacked deliveries are handed back), then the connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = this.closedError();
      await Promise.allSettled([...this.groups.values()].map((group) => group.shutdown(closed)));
      try {
        await withTimeout(this.redis.quit(), this.settings.requestTimeoutMs);
      } catch {
        // Unreachable server: nothing left to flush.
      } finally {
        this.redis.disconnect();
      }
    })();
    return this.closing;
  }

  // RedisGroupHost

  createBlockingConnection(): Redis {
    const connection = new Redis(this.url, {
      ...this.connectionOptions,
      connectionName: "floodgate-stream-fetch",
      lazyConnect: false,
      // Blocking reads take as long as they block: no command timeout, but a client-side bound of
      // the BLOCK time plus a grace, so a silently dead server cannot hang a fetch.
      commandTimeout: undefined,
      blockingTimeout: this.settings.requestTimeoutMs,
      blockingTimeoutGrace: this.settings.requestTimeoutMs,
    });
    connection.on("error", () => undefined);
    return connection;
  }

  warn(message: string): void {
    this.warnListener(message);
  }

  onGroupClosed(group: RedisStreamsConsumerGroup): void {
    const key = groupKey(group.topic, group.group);
    if (this.groups.get(key) === group) {
      this.groups.delete(key);
    }
  }

  private deadLetterSource(topic: string): RedisDeadLetters {
    const { keyPrefix, maxLength } = this.settings;
    streamKey(keyPrefix, topic); // validates the name
    return new RedisDeadLetters({
      redis: this.redis,
      scripts: this.scripts,
      topic,
      deadLetterKey: streamKey(keyPrefix, `${topic}.dead`),
      streamKeyOf: (name) => streamKey(keyPrefix, name),
      maxLength,
    });
  }

  private throwIfClosed(): void {
    if (this.closing !== undefined) {
      throw this.closedError();
    }
  }

  private closedError(): Error {
    return new Error(`The Redis Streams stream at ${redactUrl(this.url)} is closed`);
  }
}

function groupKey(topic: string, group: string): string {
  return `${topic}\n${group}`;
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
