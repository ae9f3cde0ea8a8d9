import type { Redis } from "ioredis";
import { RetryingSetup } from "../retrying-setup.js";
import type { ConsumerGroup, Delivery, GroupOptions } from "../stream.js";
import { WakeableSleep } from "../wakeable-sleep.js";
import { readGroups } from "./group-info.js";
import type { StreamScripts } from "./lua-scripts.js";
import {
  asArray,
  asBytes,
  asFieldMap,
  asInteger,
  asText,
  readGroupEntries,
  UnexpectedReplyError,
} from "./replies.js";

/** What a consumer group needs from the stream that created it. */
export interface RedisGroupHost {
  /** The shared connection for every non-blocking command. */
  readonly redis: Redis;
  readonly scripts: StreamScripts;
  /** A new connection for blocking reads, so they never hold up anyone else's commands. */
  createBlockingConnection(): Redis;
  warn(message: string): void;
  onGroupClosed(group: RedisStreamsConsumerGroup): void;
}

export interface RedisGroupContext {
  readonly host: RedisGroupHost;
  readonly topic: string;
  readonly group: string;
  readonly options: GroupOptions;
  readonly deadLetterTopic: string;
  /** This process's consumer name in the group; unique per group instance. */
  readonly consumer: string;
  readonly keys: { readonly stream: string; readonly delayed: string; readonly deadLetter: string };
  /** Longest a fetch blocks on new entries before it looks for due redeliveries again. */
  readonly redeliveryCheckMs: number;
}

/**
 * - in-flight: handed to the caller, not yet acked or nak'ed, visibility not yet expired.
 * - settled: acked, nak'ed, released or being dead-lettered.
 * - expired: the visibility timeout passed; any fetch may claim it now.
 */
type InFlightState = "in-flight" | "settled" | "expired";

interface InFlightEntry {
  readonly id: string;
  readonly attempt: number;
  state: InFlightState;
  timer: NodeJS.Timeout | undefined;
}

/** How long a fetch that cannot reach the server waits before trying again. */
const UNREACHABLE_RETRY_MS = 250;
/** Consumers idle this long with nothing pending are leftovers of dead processes. */
const STALE_CONSUMER_IDLE_MS = 60 * 60 * 1000;

/**
 * One consumer group of one topic, as a Redis consumer group on the topic's stream. Each group
 * instance is one Redis consumer (named after host, pid and a random suffix).
 *
 * - Fresh entries: XREADGROUP `>`, first without blocking, then blocking (on a connection of its
 *   own) for at most `redeliveryCheckMs` at a time, because nothing wakes a blocked read when a
 *   redelivery becomes due.
 * - Redeliveries (claim-3.lua): entries whose nak delay is over (a ZSET of due times per group)
 *   and entries idle longer than the visibility timeout (XAUTOCLAIM), whoever held them. The
 *   attempt is the entry's delivery counter in the pending list, so it survives restarts.
 * - Dead letters: an entry past `maxAttempts` is moved to the dead-letter stream atomically
 *   (XADD there + XACK here) by whichever comes first: the nak of its last attempt, this process's
 *   timer when the last attempt's visibility expires, or the next claim of it by any consumer
 *   (when the process holding it died).
 * - nak(delay) adds the entry to the delayed ZSET; the entry stays pending meanwhile (so it
 *   counts in lag and survives a crash), and claims skip it until it is due. A ZSET rather than
 *   XCLAIM with a reset idle time, because the idle trick cannot express a delay longer than
 *   the visibility timeout.
 * - touch (touch-2.lua) restarts the entry's idle time with XCLAIM JUSTID to the consumer that
 *   holds it, which leaves the delivery counter alone, so holding an entry costs no attempt.
 */
export class RedisStreamsConsumerGroup implements ConsumerGroup {
  private readonly inFlight = new Set<InFlightEntry>();
  private readonly idleConnections: Redis[] = [];
  private readonly connections = new Set<Redis>();
  private readonly backgroundTasks = new Set<Promise<void>>();
  private readonly sleeps = new WakeableSleep();
  private readonly groupReady = new RetryingSetup(() => this.createGroup());
  /** Where the next XAUTOCLAIM scan of the pending list resumes. */
  private claimCursor = "0-0";
  private closedError: Error | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly context: RedisGroupContext) {
    // Failures surface through fetch/lag; this only keeps an unused group from crashing the process.
    this.groupReady.ensure().catch(() => undefined);
  }

  get topic(): string {
    return this.context.topic;
  }

  get group(): string {
    return this.context.group;
  }

  async fetch(max: number, waitMs: number): Promise<Delivery[]> {
    this.throwIfClosed();
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`fetch(max) needs a positive integer, got ${max}`);
    }
    const deadline = performance.now() + Math.max(0, waitMs);
    const remaining = () => deadline - performance.now();
    for (;;) {
      this.throwIfClosed();
      try {
        await this.groupReady.ensure();
        // Redeliveries first: they are older than anything not yet read.
        const { deliveries, nextDueMs } = await this.claimRedeliveries(max);
        if (deliveries.length < max) {
          deliveries.push(...(await this.readNew(this.context.host.redis, max - deliveries.length)));
        }
        if (deliveries.length > 0 || remaining() <= 0) {
          return deliveries;
        }
        const blockMs = Math.min(remaining(), this.context.redeliveryCheckMs, nextDueMs ?? Infinity);
        const fresh = await this.readNewBlocking(max, Math.max(1, Math.ceil(blockMs)));
        if (fresh.length > 0) {
          return fresh;
        }
      } catch (error) {
        this.throwIfClosed();
        if (isMissingGroup(error)) {
          // The stream or group was deleted under us: create it again on the next round.
          this.groupReady.reset();
        } else if (!isTransientRedisError(error)) {
          throw error;
        }
        if (remaining() <= 0) {
          return [];
        }
        await this.sleep(Math.min(remaining(), UNREACHABLE_RETRY_MS));
      }
    }
  }

  async lag(): Promise<number> {
    this.throwIfClosed();
    await this.groupReady.ensure();
    const info = (await readGroups(this.context.host.redis, this.context.keys.stream)).find(
      (group) => group.name === this.context.group,
    );
    return info === undefined ? 0 : info.undelivered + info.pending;
  }

  close(): Promise<void> {
    return this.shutdown(
      new Error(`Consumer group "${this.context.group}" of topic "${this.context.topic}" is closed`),
    );
  }

  /**
   * Ends waiting fetches (they reject with `reason`), gives every delivery this process still
   * holds back to the group at once (due now, so nobody waits out the visibility timeout), waits
   * for dead-letter moves already started, and removes this consumer if it holds nothing.
   */
  shutdown(reason: Error): Promise<void> {
    this.closing ??= (async () => {
      this.closedError = reason;
      this.wakeSleepers();
      // Cuts blocked reads short. An entry Redis handed to a read just before is pending for
      // this consumer and is claimed by others after the visibility timeout.
      for (const connection of this.connections) {
        connection.disconnect();
      }
      const outstanding = [...this.inFlight];
      this.inFlight.clear();
      for (const entry of outstanding) {
        clearTimeout(entry.timer);
        entry.state = "settled";
      }
      // Without a connection there is no point waiting for each to time out: they are claimed by
      // others after the visibility timeout anyway.
      if (this.context.host.redis.status === "ready") {
        await Promise.allSettled(outstanding.map((entry) => this.scheduleRedelivery(entry, 0)));
      }
      await Promise.allSettled(this.backgroundTasks);
      const { host, keys, group, consumer } = this.context;
      await host.scripts.deleteIdleConsumer
        .run(host.redis, [keys.stream], [group, consumer])
        .catch(() => undefined);
      host.onGroupClosed(this);
    })();
    return this.closing;
  }

  private async createGroup(): Promise<void> {
    const { host, keys, group } = this.context;
    try {
      // From "0": a new group reads everything the stream still holds, like the embedded log.
      await host.redis.call("XGROUP", "CREATE", keys.stream, group, "0", "MKSTREAM");
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith("BUSYGROUP"))) {
        throw error;
      }
    }
    void this.removeStaleConsumers();
  }

  /**
   * Every process start adds a consumer to the group; a process that died leaves its consumer
   * behind (its entries get claimed by others). Consumers idle for an hour with nothing pending
   * are removed so the list does not grow forever. Best effort.
   */
  private async removeStaleConsumers(): Promise<void> {
    const { host, keys, group, consumer } = this.context;
    try {
      const consumers = asArray(
        await host.redis.call("XINFO", "CONSUMERS", keys.stream, group),
        "XINFO CONSUMERS",
      );
      for (const item of consumers) {
        const fields = asFieldMap(item, "XINFO CONSUMERS entry");
        const name = asText(fields.get("name"), "consumer name");
        if (
          name !== consumer &&
          asInteger(fields.get("pending"), "consumer pending") === 0 &&
          asInteger(fields.get("idle"), "consumer idle") > STALE_CONSUMER_IDLE_MS
        ) {
          await host.scripts.deleteIdleConsumer.run(host.redis, [keys.stream], [group, name]);
        }
      }
    } catch (error) {
      host.warn(`Redis Streams: could not tidy consumers of group "${group}" (${String(error)})`);
    }
  }

  private async claimRedeliveries(
    max: number,
  ): Promise<{ deliveries: Delivery[]; nextDueMs: number | undefined }> {
    const { host, keys, group, consumer, options, topic } = this.context;
    const reply = asArray(
      await host.scripts.claim.run(
        host.redis,
        [keys.stream, keys.delayed, keys.deadLetter],
        [group, consumer, options.visibilityTimeoutMs, max, this.claimCursor, options.maxAttempts, topic],
      ),
      "claim script",
    );
    this.claimCursor = asText(reply[0], "claim cursor");
    const deliveries = asArray(reply[1], "claimed entries").map((item) => {
      const [id, payload, attempt] = asArray(item, "claimed entry");
      return this.deliver(asText(id, "entry id"), asBytes(payload, "payload"), asInteger(attempt, "attempt"));
    });
    const nextDueMs = asInteger(reply[2], "next due");
    return { deliveries, nextDueMs: nextDueMs < 0 ? undefined : nextDueMs };
  }

  private async readNew(connection: Redis, count: number, blockMs?: number): Promise<Delivery[]> {
    const { keys, group, consumer } = this.context;
    const block = blockMs === undefined ? [] : ["BLOCK", blockMs];
    const reply = await connection.callBuffer(
      "XREADGROUP",
      "GROUP",
      group,
      consumer,
      "COUNT",
      count,
      ...block,
      "STREAMS",
      keys.stream,
      ">",
    );
    // A fresh entry's first delivery: its delivery counter is 1.
    return readGroupEntries(reply).map((entry) => this.deliver(entry.id, entry.payload, 1, entry.headers));
  }

  /** Blocks on a connection of this group's own, taken from a small pool (one per concurrent fetch). */
  private async readNewBlocking(count: number, blockMs: number): Promise<Delivery[]> {
    let connection = this.idleConnections.pop();
    if (connection === undefined) {
      connection = this.context.host.createBlockingConnection();
      this.connections.add(connection);
    }
    try {
      return await this.readNew(connection, count, blockMs);
    } finally {
      if (this.closedError === undefined) {
        this.idleConnections.push(connection);
      }
    }
  }

  private deliver(
    id: string,
    payload: Buffer,
    attempt: number,
    headers?: Readonly<Record<string, string>>,
  ): Delivery {
    const entry: InFlightEntry = { id, attempt, state: "in-flight", timer: undefined };
    this.startVisibilityTimer(entry);
    this.inFlight.add(entry);
    const { host, keys, group } = this.context;
    return {
      id,
      data: payload,
      attempt,
      ...(headers ? { headers } : {}),
      ack: async () => {
        this.throwIfClosed();
        // Sent even when the visibility expired: an ack from a slow consumer still completes the
        // entry (the port is at-least-once; a redelivery may already be under way).
        this.settle(entry);
        await host.redis.call("XACK", keys.stream, group, id);
      },
      nak: async (delayMs = 0) => {
        this.throwIfClosed();
        // A nak from a delivery that already timed out (and maybe went to another consumer) is stale.
        if (entry.state !== "in-flight") {
          return;
        }
        this.settle(entry);
        if (attempt >= this.context.options.maxAttempts) {
          await this.moveToDeadLetter(entry);
        } else {
          await this.scheduleRedelivery(entry, delayMs);
        }
      },
      touch: async () => {
        this.throwIfClosed();
        // Stale (settled, or expired and maybe claimed by another consumer): leave it alone.
        if (entry.state !== "in-flight") {
          return;
        }
        const restarted = asInteger(
          await host.scripts.touch.run(
            host.redis,
            [keys.stream, keys.delayed],
            [group, this.context.consumer, id, attempt],
          ),
          "touch script",
        );
        if (entry.state !== "in-flight") {
          return;
        }
        if (restarted === 1) {
          this.startVisibilityTimer(entry);
        } else {
          // Redis says it is no longer ours (claimed after its idle time before our timer
          // fired): from now on this delivery is stale here too.
          this.forget(entry, "expired");
        }
      },
    };
  }

  /** Mirrors the entry's idle deadline, to dead-letter a last attempt that expires while we live. */
  private startVisibilityTimer(entry: InFlightEntry): void {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => this.visibilityExpired(entry), this.context.options.visibilityTimeoutMs);
    entry.timer.unref();
  }

  private settle(entry: InFlightEntry): void {
    this.forget(entry, "settled");
  }

  private forget(entry: InFlightEntry, state: "settled" | "expired"): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.state = state;
    this.inFlight.delete(entry);
  }

  private visibilityExpired(entry: InFlightEntry): void {
    if (entry.state !== "in-flight") {
      return;
    }
    entry.timer = undefined;
    entry.state = "expired";
    this.inFlight.delete(entry);
    if (entry.attempt >= this.context.options.maxAttempts) {
      const task = this.moveToDeadLetter(entry).catch((error: unknown) => {
        this.context.host.warn(
          `Redis Streams: could not dead-letter entry ${entry.id} of topic "${this.context.topic}" ` +
            `(${String(error)}); the next claim of it will`,
        );
      });
      this.backgroundTasks.add(task);
      void task.finally(() => this.backgroundTasks.delete(task));
    }
  }

  private async scheduleRedelivery(entry: InFlightEntry, delayMs: number): Promise<void> {
    const { host, keys, group, consumer } = this.context;
    await host.scripts.nak.run(
      host.redis,
      [keys.stream, keys.delayed],
      [group, consumer, entry.id, entry.attempt, Math.max(0, Math.round(delayMs))],
    );
  }

  private async moveToDeadLetter(entry: InFlightEntry): Promise<void> {
    const { host, keys, group, consumer, topic } = this.context;
    await host.scripts.deadLetter.run(
      host.redis,
      [keys.stream, keys.deadLetter, keys.delayed],
      [group, consumer, entry.id, entry.attempt, topic],
    );
  }

  private throwIfClosed(): void {
    if (this.closedError !== undefined) {
      throw this.closedError;
    }
  }

  /** Resolves after `timeoutMs`, or earlier on close (or a connection change). */
  private sleep(timeoutMs: number): Promise<void> {
    return this.closedError !== undefined ? Promise.resolve() : this.sleeps.sleep(timeoutMs);
  }

  private wakeSleepers(): void {
    this.sleeps.wakeAll();
  }
}

function isMissingGroup(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("NOGROUP");
}

/**
 * Connection trouble (refused, reset, closed, timed out) is worth waiting out; so are the replies
 * of a server still starting or failing over. Other reply errors are real refusals, and replies
 * this adapter cannot read, like programming errors, are bugs: neither is retried.
 */
export function isTransientRedisError(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof UnexpectedReplyError) {
    return false;
  }
  if (error instanceof TypeError || error instanceof RangeError || error instanceof SyntaxError) {
    return false;
  }
  if (error.name !== "ReplyError") {
    return true;
  }
  return /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|READONLY|CLUSTERDOWN)\b/.test(error.message);
}
