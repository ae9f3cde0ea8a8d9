import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { connect, headers, type MsgHdrs, type NatsConnection, nanos } from "@nats-io/transport-node";
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
  GroupStats,
  ReplayOptions,
  ReplayResult,
  Stream,
  TopicStats,
} from "../stream.js";
import { JetStreamDeadLetters } from "./dead-letters.js";
import { JetStreamConsumerGroup, type JetStreamGroupHost } from "./jetstream-consumer-group.js";
import {
  assertGroupName,
  assertPrefixes,
  fromJetStreamName,
  type TopicNames,
  toJetStreamName,
  topicNames,
} from "./names.js";
import { isNoResponders } from "./transient-errors.js";

export interface JetStreamOptions {
  /** Prepended to every stream name (`FLOODGATE_orders~requested`). Default "FLOODGATE_". */
  readonly streamPrefix?: string;
  /** First subject token(s) of every topic (`floodgate.orders.requested`). Default "floodgate". */
  readonly subjectPrefix?: string;
  /** The streams' de-duplication window for `dedupId` (Nats-Msg-Id). Default 2 minutes. */
  readonly duplicateWindowMs?: number;
  /**
   * Bound on every request: an append rejects if no PubAck arrives within it (twice it when the
   * topic's stream must be created first), and so do ack, nak and lag. Default 5 s.
   */
  readonly requestTimeoutMs?: number;
  /** Replicas of each stream created here (1 on a single server, 3 in a cluster). Default 1. */
  readonly replicas?: number;
  /** Pause between reconnect attempts; the client retries forever. Default 250 ms. */
  readonly reconnectWaitMs?: number;
  /** How long opening waits for the first connection. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Receives non-fatal problems: an old server, failed dead-letter moves, refused pulls. */
  readonly onWarning?: (message: string) => void;
}

type Settings = Required<Omit<JetStreamOptions, "onWarning">>;

const DEFAULTS: Settings = {
  streamPrefix: "FLOODGATE_",
  subjectPrefix: "floodgate",
  duplicateWindowMs: 2 * 60 * 1000,
  requestTimeoutMs: 5_000,
  replicas: 1,
  reconnectWaitMs: 250,
  connectTimeoutMs: 5_000,
};

/** Error code of "stream name already in use with a different configuration". */
const STREAM_NAME_IN_USE = 10058;
/** The first version with the `sync_interval: always` JetStream option (see docs/operations.md). */
const SYNC_ALWAYS_VERSION = [2, 10, 0] as const;

/**
 * Opens the NATS JetStream adapter of the Stream port.
 *
 * Layout: one JetStream stream per topic (file storage, limits retention, never trimmed unless an
 * operator sets limits, DiscardNew so a full stream refuses appends instead of dropping unread
 * messages), capturing the single subject `<subjectPrefix>.<topic>`; one durable pull consumer
 * per group, named after the group. A stream per topic rather than one stream with a subject per
 * topic keeps each topic's retention, duplicate window and deletion independent, makes
 * `stats().appended` the stream's last sequence, and lets a consumer see its topic without a
 * subject filter.
 *
 * Durability: an append resolves on the server's PubAck, which JetStream sends after writing the
 * message to its file store — but it fsyncs only every `sync_interval` (2 minutes by default), so
 * on power loss or an OS crash a single server can lose acknowledged messages. Run nats-server
 * 2.10+ with `jetstream { sync_interval: always }` (docs/operations.md, "Queue durability"); this
 * function warns when the server is older than that, since older servers cannot be configured so.
 *
 * Streams and consumers are created on first use (append, group) and left alone if they exist:
 * retention or a duplicate window tuned by an operator is kept, but a stream with memory storage
 * or without the topic's subject is refused.
 */
export async function openJetStream(url: string, options: JetStreamOptions = {}): Promise<Stream> {
  const settings = resolveSettings(options);
  const warn = options.onWarning ?? (() => undefined);
  const connection = await connect({
    servers: url,
    name: "floodgate",
    // The client reconnects by itself; "forever" so a long broker outage never leaves a dead
    // connection behind (the default gives up after 10 attempts).
    maxReconnectAttempts: -1,
    reconnectTimeWait: settings.reconnectWaitMs,
    timeout: settings.connectTimeoutMs,
    // Notices a silently dead server (no TCP reset) within ~30 s instead of the default 4 minutes.
    pingInterval: 10_000,
    maxPingOut: 3,
    // Without this the client builds two Error objects (stack traces included) for every publish
    // acknowledgement it awaits, in case the request fails: ~10% of the intake's CPU in a
    // profiled flash sale (bench/results, --cpu-prof). Failures still carry their own message.
    noAsyncTraces: true,
  }).catch((error: unknown) => {
    throw new Error(`Could not connect to NATS at ${redactUrl(url)}: ${String(error)}`, { cause: error });
  });
  try {
    // Also checks that JetStream is enabled for this account: fails here rather than on first use.
    const manager = await jetstreamManager(connection, { timeout: settings.requestTimeoutMs });
    const version = connection.info?.version ?? "unknown";
    if (!versionAtLeast(version, SYNC_ALWAYS_VERSION)) {
      warn(
        `nats-server ${version} cannot fsync every JetStream write (sync_interval: always needs ` +
          `${SYNC_ALWAYS_VERSION.join(".")} or later): acknowledged appends survive a server crash but may ` +
          "be lost on power loss or an OS crash; see docs/operations.md",
      );
    }
    return new JetStreamStream(url, connection, manager, settings, warn);
  } catch (error) {
    await connection.close().catch(() => undefined);
    throw new Error(`Could not open JetStream at ${url}: ${String(error)}`, { cause: error });
  }
}

function resolveSettings(options: JetStreamOptions): Settings {
  const settings: Settings = {
    streamPrefix: options.streamPrefix ?? DEFAULTS.streamPrefix,
    subjectPrefix: options.subjectPrefix ?? DEFAULTS.subjectPrefix,
    duplicateWindowMs: options.duplicateWindowMs ?? DEFAULTS.duplicateWindowMs,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
    replicas: options.replicas ?? DEFAULTS.replicas,
    reconnectWaitMs: options.reconnectWaitMs ?? DEFAULTS.reconnectWaitMs,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
  };
  assertPrefixes(settings.streamPrefix, settings.subjectPrefix);
  for (const name of [
    "duplicateWindowMs",
    "requestTimeoutMs",
    "replicas",
    "reconnectWaitMs",
    "connectTimeoutMs",
  ] as const) {
    const value = settings[name];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`JetStream option ${name} must be a positive integer, got ${value}`);
    }
  }
  return settings;
}

function versionAtLeast(version: string, minimum: readonly number[]): boolean {
  const parts = version.split(/[.-]/).map(Number);
  for (const [index, wanted] of minimum.entries()) {
    const actual = parts[index];
    if (actual === undefined || Number.isNaN(actual)) {
      return false;
    }
    if (actual !== wanted) {
      return actual > wanted;
    }
  }
  return true;
}

class JetStreamStream implements Stream, JetStreamGroupHost {
  readonly requestTimeoutMs: number;
  private readonly client: JetStreamClient;
  /** Streams created or checked by this process, by stream name. */
  private readonly streams = new Map<string, Promise<void>>();
  private readonly groups = new Map<string, JetStreamConsumerGroup>();
  private readonly connectionListeners = new Set<() => void>();
  private connected = true;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly url: string,
    readonly connection: NatsConnection,
    readonly manager: JetStreamManager,
    private readonly settings: Settings,
    private readonly warnListener: (message: string) => void,
  ) {
    this.requestTimeoutMs = settings.requestTimeoutMs;
    this.client = manager.jetstream();
    void this.watchConnection();
  }

  append(topic: string, data: Uint8Array, options?: AppendOptions): Promise<void> {
    if (this.closing !== undefined) {
      return Promise.reject(this.closedError());
    }
    let names: TopicNames;
    try {
      names = this.names(topic);
    } catch (error) {
      return Promise.reject(error);
    }
    const given = options?.headers;
    return this.publish(names, data, {
      msgID: options?.dedupId,
      ...(given ? { headers: messageHeaders(given) } : {}),
    });
  }

  group(topic: string, group: string, options: GroupOptions): ConsumerGroup {
    if (this.closing !== undefined) {
      throw this.closedError();
    }
    assertGroupName(group);
    assertGroupOptions(group, options);
    const names = this.names(topic);
    const deadLetterNames = this.names(options.deadLetterTopic ?? `${topic}.dead`);
    if (deadLetterNames.topic === topic) {
      throw new RangeError(`Consumer group "${group}": the dead-letter topic must differ from "${topic}"`);
    }
    // One instance per group in this process (the first caller's options win), like the embedded log.
    const key = groupKey(topic, group);
    const existing = this.groups.get(key);
    if (existing !== undefined) {
      return existing;
    }
    const created = new JetStreamConsumerGroup({
      host: this,
      names,
      deadLetterNames,
      group,
      durable: toJetStreamName(group),
      options,
    });
    this.groups.set(key, created);
    return created;
  }

  async stats(topic: string): Promise<TopicStats> {
    this.throwIfClosed();
    const names = this.names(topic);
    const deadLetters = this.deadLetterSource(topic).count();
    // Read alongside; its rejection is awaited below, never left unhandled.
    deadLetters.catch(() => undefined);
    let appended: number;
    try {
      appended = (await this.manager.streams.info(names.stream)).state.last_seq;
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
        return { topic, appended: 0, deadLetters: await deadLetters, groups: [] };
      }
      throw error;
    }
    const groups: GroupStats[] = [];
    // Every durable on the stream, including groups no process has open right now.
    for await (const consumer of this.manager.consumers.list(names.stream)) {
      groups.push({
        group: fromJetStreamName(consumer.name),
        lag: consumer.num_pending + consumer.num_ack_pending,
        inFlight: consumer.num_ack_pending,
        // Pending messages delivered more than once (the server forgets a count on ack or term).
        redelivered: consumer.num_redelivered,
      });
    }
    return { topic, appended, deadLetters: await deadLetters, groups };
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

  /**
   * Closes the groups (their fetches reject, their unacked deliveries are handed back), then
   * drains and closes the connection. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = this.closedError();
      await Promise.allSettled([...this.groups.values()].map((group) => group.shutdown(closed)));
      try {
        await withTimeout(this.connection.drain(), this.settings.requestTimeoutMs);
      } catch {
        // Unreachable server or drain timeout: close regardless, there is nothing left to flush.
      } finally {
        await this.connection.close().catch(() => undefined);
      }
    })();
    return this.closing;
  }

  // JetStreamGroupHost

  ensureStream(names: TopicNames): Promise<void> {
    let ensured = this.streams.get(names.stream);
    if (ensured === undefined) {
      ensured = this.createOrCheckStream(names);
      this.streams.set(names.stream, ensured);
      const settled = ensured;
      settled.catch(() => {
        if (this.streams.get(names.stream) === settled) {
          this.streams.delete(names.stream);
        }
      });
    }
    return ensured;
  }

  async publish(
    names: TopicNames,
    data: Uint8Array,
    options: { msgID: string | undefined; headers?: MsgHdrs },
  ): Promise<void> {
    await this.ensureStream(names);
    try {
      await this.publishOnce(names, data, options);
    } catch (error) {
      if (!isNoResponders(error)) {
        throw error;
      }
      // The stream was deleted (by an operator, or a test's cleanup) after this process created
      // it: create it again, once. A JetStream that is down altogether times out instead.
      this.streams.delete(names.stream);
      await this.ensureStream(names);
      await this.publishOnce(names, data, options);
    }
  }

  isConnected(): boolean {
    return this.connected;
  }

  onConnectionChange(listener: () => void): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  warn(message: string): void {
    this.warnListener(message);
  }

  onGroupClosed(group: JetStreamConsumerGroup): void {
    const key = groupKey(group.topic, group.group);
    if (this.groups.get(key) === group) {
      this.groups.delete(key);
    }
  }

  private async publishOnce(
    names: TopicNames,
    data: Uint8Array,
    options: { msgID: string | undefined; headers?: MsgHdrs },
  ): Promise<void> {
    await this.client.publish(names.subject, data, {
      msgID: options.msgID,
      headers: options.headers,
      timeout: this.settings.requestTimeoutMs,
      // Refuse rather than silently land in some other stream that captures the same subject.
      expect: { streamName: names.stream },
    });
    // A PubAck with duplicate: true means the first append with this Nats-Msg-Id is stored.
  }

  private async createOrCheckStream(names: TopicNames): Promise<void> {
    const config: Partial<StreamConfig> & { name: string } = {
      name: names.stream,
      description: `Floodgate topic "${names.topic}"`,
      subjects: [names.subject],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.New,
      duplicate_window: nanos(this.settings.duplicateWindowMs),
      num_replicas: this.settings.replicas,
    };
    try {
      await this.manager.streams.add(config);
      return;
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.code !== STREAM_NAME_IN_USE) {
        throw error;
      }
    }
    // It exists with another configuration (an operator tuned it): keep it if it is safe.
    const existing = (await this.manager.streams.info(names.stream)).config;
    if (existing.storage !== StorageType.File) {
      throw new Error(
        `JetStream stream "${names.stream}" uses ${existing.storage} storage; topic "${names.topic}" needs ` +
          "file storage to keep acknowledged messages across a server restart",
      );
    }
    if (!existing.subjects.includes(names.subject)) {
      throw new Error(
        `JetStream stream "${names.stream}" does not capture subject "${names.subject}" of topic "${names.topic}"`,
      );
    }
  }

  private deadLetterSource(topic: string): JetStreamDeadLetters {
    this.names(topic); // validates the name
    return new JetStreamDeadLetters({
      manager: this.manager,
      topic,
      deadLetterNames: this.names(`${topic}.dead`),
      namesOf: (name) => this.names(name),
      publish: (names, data, options) => this.publish(names, data, options),
    });
  }

  private throwIfClosed(): void {
    if (this.closing !== undefined) {
      throw this.closedError();
    }
  }

  private names(topic: string): TopicNames {
    return topicNames(topic, this.settings.streamPrefix, this.settings.subjectPrefix);
  }

  private async watchConnection(): Promise<void> {
    for await (const status of this.connection.status()) {
      if (status.type === "disconnect" || status.type === "reconnect") {
        this.connected = status.type === "reconnect";
        for (const listener of [...this.connectionListeners]) {
          listener();
        }
      }
    }
  }

  private closedError(): Error {
    return new Error(`The JetStream stream at ${redactUrl(this.url)} is closed`);
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

/** The caller's headers as NATS message headers (names kept as given). */
function messageHeaders(given: Readonly<Record<string, string>>): MsgHdrs {
  const result = headers();
  for (const [name, value] of Object.entries(given)) result.set(name, value);
  return result;
}
