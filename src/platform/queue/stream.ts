/**
 * Stream port: a durable, append-only message log with consumer groups.
 *
 * Semantics every adapter must honour (the conformance suite in test/platform/queue checks them):
 * - `append` resolves only once the message is durable (for the embedded log: fsync'd to disk;
 *   for brokers: acknowledged by the server after its own sync). A rejected append means the
 *   message may or may not be stored; callers treat it as "not accepted".
 * - Each consumer group receives every message at least once. A delivery that is neither acked
 *   nor nak'ed within `visibilityTimeoutMs` is delivered again with `attempt` incremented.
 *   `touch` restarts that timeout without counting an attempt, so a consumer may hold a message
 *   as long as it keeps touching it.
 * - After `maxAttempts` deliveries without an ack the message moves to the group's dead-letter
 *   topic (`deadLetterTopic`, default `<topic>.dead`) and is no longer delivered to the group.
 * - Within a group, fresh messages are handed out in append order; redeliveries may interleave.
 * - Dead letters of `topic` can be counted (`stats`), listed (`deadLetters`) and moved back
 *   (`replayDeadLetters`). All three look at the default dead-letter topic `<topic>.dead`; a custom
 *   `deadLetterTopic` is not covered.
 */
export interface AppendOptions {
  /** Broker-side de-duplication id (JetStream Nats-Msg-Id). Adapters without it may ignore it. */
  readonly dedupId?: string;
  /**
   * Small text metadata carried beside the message, not in it (the W3C trace context of the
   * request that appended it). NATS JetStream and Redis Streams deliver them with the first
   * delivery; the embedded log does not store them, so its deliveries have none. Consumers must
   * treat them as optional.
   */
  readonly headers?: Readonly<Record<string, string>>;
}

export interface GroupOptions {
  /** How long a fetched message stays invisible to other fetches before it is redelivered. */
  readonly visibilityTimeoutMs: number;
  /** Deliveries after which an un-acked message is dead-lettered. */
  readonly maxAttempts: number;
  /** Where dead letters go; default `<topic>.dead`. */
  readonly deadLetterTopic?: string;
}

export interface Delivery {
  /** Adapter-specific, unique within the topic (the embedded log uses the record offset). */
  readonly id: string;
  readonly data: Uint8Array;
  /** 1 on first delivery. */
  readonly attempt: number;
  /** The headers given to `append`, where the adapter carries them (see AppendOptions.headers). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Marks the message done for this group. Idempotent. */
  ack(): Promise<void>;
  /** Gives the message back; it is redelivered after `delayMs` (default 0). */
  nak(delayMs?: number): Promise<void>;
  /**
   * "Still working on it": restarts this delivery's visibility timeout (a full
   * `visibilityTimeoutMs` from now) without counting a delivery attempt. A consumer that must
   * hold a message longer (waiting out an outage of something it depends on) touches it well
   * inside the timeout. On a delivery that is no longer this consumer's (acked, nak'ed, or
   * expired and perhaps delivered again elsewhere) it does nothing, like a stale nak: it never
   * revives a delivery or extends someone else's.
   */
  touch(): Promise<void>;
}

export interface ConsumerGroup {
  /**
   * Up to `max` deliveries; waits at most `waitMs` for the first one, then returns what it has
   * (possibly none). Rejects only when the stream is closed.
   */
  fetch(max: number, waitMs: number): Promise<Delivery[]>;
  /** Messages appended but not yet acked by this group (includes in-flight ones). */
  lag(): Promise<number>;
  close(): Promise<void>;
}

export interface GroupStats {
  readonly group: string;
  /**
   * Appended but not yet acked by this group: the group's depth (waiting, in flight, or waiting
   * to be redelivered). The same figure as `ConsumerGroup.lag()`.
   */
  readonly lag: number;
  /** Delivered and not yet acked (in flight, or nak'ed and waiting for redelivery). */
  readonly inFlight: number;
  /**
   * Of those not yet acked, the messages delivered more than once: what the group is retrying
   * right now. A gauge, not a running total: it falls when they are acked or dead-lettered.
   * JetStream's `num_redelivered`; Redis: pending entries with a delivery count above 1; the
   * embedded log: unacked messages past their first attempt in this process (attempts live in
   * memory there, so a restart starts them at 1 again).
   */
  readonly redelivered: number;
}

export interface TopicStats {
  readonly topic: string;
  /** Messages appended since the log began (or the adapter's equivalent high-water mark). */
  readonly appended: number;
  /** Messages now in the topic's dead-letter topic `<topic>.dead` (replayed ones no longer count). */
  readonly deadLetters: number;
  readonly groups: ReadonlyArray<GroupStats>;
}

export interface DeadLetter {
  /** Unique within the dead-letter topic, in the adapter's own form; ids sort in dead-letter order. */
  readonly id: string;
  /** The message as it was appended to the original topic. */
  readonly data: Uint8Array;
  /** Where it came from, and where a replay puts it back. */
  readonly originalTopic: string;
  /** The group that gave up on it, where the adapter records it (not the embedded log). */
  readonly group?: string;
  /** Deliveries it had, where the adapter records it (not the embedded log). */
  readonly attempts?: number;
  /** When it was dead-lettered (epoch ms), where the adapter records it (not the embedded log). */
  readonly deadLetteredAt?: number;
}

export interface DeadLetterQuery {
  /** At most this many, oldest first. */
  readonly limit: number;
  /** Only dead letters after this id (the last id of the previous page). */
  readonly after?: string;
}

/** Dead letters by id, or every dead letter the topic holds when the replay starts. */
export type DeadLetterSelection = readonly string[] | "all";

export interface ReplayOptions {
  /** Called as the replay goes, with the number replayed so far and the number selected. */
  readonly onProgress?: (replayed: number, total: number) => void;
}

export interface ReplayResult {
  readonly replayed: number;
  /** Requested ids that were not (or no longer) in the dead-letter topic, e.g. replayed already. */
  readonly missing: readonly string[];
}

/** A dead-letter id that cannot name a dead letter of this adapter (not merely one that is gone). */
export class InvalidDeadLetterIdError extends RangeError {
  override readonly name = "InvalidDeadLetterIdError";

  constructor(
    readonly id: string,
    expected: string,
  ) {
    super(`Invalid dead-letter id ${JSON.stringify(id)}: expected ${expected}`);
  }
}

export interface Stream {
  append(topic: string, data: Uint8Array, options?: AppendOptions): Promise<void>;
  group(topic: string, group: string, options: GroupOptions): ConsumerGroup;
  stats(topic: string): Promise<TopicStats>;
  /** Dead letters of `topic` (in `<topic>.dead`), oldest first. */
  deadLetters(topic: string, query: DeadLetterQuery): Promise<DeadLetter[]>;
  /**
   * Appends each selected dead letter to its original topic again, then removes it from the
   * dead-letter topic: append first, remove after, so a failure in between never loses a message.
   * It may duplicate one (a crash after the append, before the removal, replays it again later);
   * consumers absorb that as they absorb any redelivery (order ids are idempotent). Where the
   * adapter de-duplicates appends, the re-append carries a `dedupId` derived from the dead
   * letter's id (never the original one, which would make the replay a "duplicate" of the very
   * message that failed), so a retried replay inside the window is stored once.
   */
  replayDeadLetters(
    topic: string,
    selection: DeadLetterSelection,
    options?: ReplayOptions,
  ): Promise<ReplayResult>;
  /** Flushes what is pending and releases files/connections. Further calls reject. */
  close(): Promise<void>;
}
