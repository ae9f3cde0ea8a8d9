/**
 * Stream port: a durable, append-only message log with consumer groups.
 *
 * Semantics every adapter must honour (the conformance suite in test/platform/queue checks them):
 * - `append` resolves only once the message is durable (for the embedded log: fsync'd to disk;
 *   for brokers: acknowledged by the server after its own sync). A rejected append means the
 *   message may or may not be stored; callers treat it as "not accepted".
 * - Each consumer group receives every message at least once. A delivery that is neither acked
 *   nor nak'ed within `visibilityTimeoutMs` is delivered again with `attempt` incremented.
 * - After `maxAttempts` deliveries without an ack the message moves to the group's dead-letter
 *   topic (`deadLetterTopic`, default `<topic>.dead`) and is no longer delivered to the group.
 * - Within a group, fresh messages are handed out in append order; redeliveries may interleave.
 */
export interface AppendOptions {
  /** Broker-side de-duplication id (JetStream Nats-Msg-Id). Adapters without it may ignore it. */
  readonly dedupId?: string;
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
  /** Marks the message done for this group. Idempotent. */
  ack(): Promise<void>;
  /** Gives the message back; it is redelivered after `delayMs` (default 0). */
  nak(delayMs?: number): Promise<void>;
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

export interface TopicStats {
  readonly topic: string;
  /** Messages appended since the log began (or the adapter's equivalent high-water mark). */
  readonly appended: number;
  readonly groups: ReadonlyArray<{ readonly group: string; readonly lag: number; readonly inFlight: number }>;
}

export interface Stream {
  append(topic: string, data: Uint8Array, options?: AppendOptions): Promise<void>;
  group(topic: string, group: string, options: GroupOptions): ConsumerGroup;
  stats(topic: string): Promise<TopicStats>;
  /** Flushes what is pending and releases files/connections. Further calls reject. */
  close(): Promise<void>;
}
