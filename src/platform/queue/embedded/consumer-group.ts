import type { ConsumerGroup, Delivery, GroupOptions } from "../stream.js";
import type { GroupOffsetStore } from "./group-offsets.js";
import { LogCursor } from "./log-cursor.js";
import type { SegmentLog } from "./segment-log.js";

export interface TopicStorage {
  readonly log: SegmentLog;
  readonly offsets: GroupOffsetStore;
}

export interface ConsumerGroupContext {
  readonly topic: string;
  readonly group: string;
  readonly options: GroupOptions;
  /** Resolves once the topic's log is open (it is opened lazily, on first use). */
  readonly storage: Promise<TopicStorage>;
  readonly readChunkBytes: number;
  /** Lazy persistence: a crash loses at most this much acknowledgement progress (=> redelivery). */
  readonly persistIntervalMs: number;
  /** Durable append to another topic, allowed while the stream is closing. */
  appendDeadLetter(topic: string, data: Uint8Array): Promise<void>;
  warn(message: string): void;
  /** Called once the group has shut down, so the stream stops handing it out. */
  onClosed(): void;
}

/**
 * - delivered: handed to a consumer, invisible until its visibility deadline.
 * - waiting: nak'ed with a delay, or a failed dead-letter append waiting for its retry.
 * - ready: due for redelivery, queued for the next fetch.
 * - dead-lettering: being appended to the dead-letter topic.
 */
type MessageState = "delivered" | "waiting" | "ready" | "dead-lettering";

interface UnackedMessage {
  readonly offset: number;
  readonly data: Uint8Array;
  /** Deliveries so far. Kept in memory only: after a restart a message starts again at 1. */
  attempt: number;
  state: MessageState;
  /** Bumped on every delivery so a late nak of an older delivery cannot disturb a newer one. */
  delivery: number;
  timer: NodeJS.Timeout | undefined;
}

/** A FIFO with O(1) shift, for redeliveries (Array#shift is O(n)). */
class Queue<T> {
  private items: T[] = [];
  private head = 0;

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) {
      return undefined;
    }
    const item = this.items[this.head]!;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
}

function unrefTimer(timer: NodeJS.Timeout): NodeJS.Timeout {
  // Redelivery and persistence timers must not keep an otherwise finished process alive.
  timer.unref();
  return timer;
}

/**
 * One consumer group of one topic in the embedded log.
 *
 * Progress is a committed offset (every record below it is done) plus the set of offsets acked
 * ahead of it; the committed offset advances as soon as the acks are contiguous and is written
 * to disk lazily. A crash therefore redelivers whatever was acked after the last write, and
 * everything that was in flight: at-least-once, which consumers handle by being idempotent.
 */
export class EmbeddedConsumerGroup implements ConsumerGroup {
  private storage: TopicStorage | undefined;
  private cursor: LogCursor | undefined;
  private readonly ready: Promise<void>;
  private committed = 0;
  private persistedCommitted = 0;
  private readonly ackedAhead = new Set<number>();
  /** Fetched (or being redelivered / dead-lettered) but not acked. */
  private readonly unacked = new Map<number, UnackedMessage>();
  private readonly redeliveries = new Queue<UnackedMessage>();
  private readonly deadLetterTasks = new Set<Promise<void>>();
  private deliveryCounter = 0;
  /** Bumped on every event that can make a fetch succeed; fetch compares it to avoid lost wake-ups. */
  private signalVersion = 0;
  private readonly waiters = new Set<() => void>();
  /** Fetches take messages one at a time: the cursor reads asynchronously and must not be shared. */
  private takeQueue: Promise<unknown> = Promise.resolve();
  private persistTimer: NodeJS.Timeout | undefined;
  private persistQueue: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private closedError: Error | undefined;
  private closing: Promise<void> | undefined;
  private readonly deadLetterTopic: string;

  constructor(private readonly context: ConsumerGroupContext) {
    this.deadLetterTopic = context.options.deadLetterTopic ?? `${context.topic}.dead`;
    this.ready = this.initialise();
    // Failures surface through fetch/lag; this only keeps an unused group from crashing the process.
    this.ready.catch(() => undefined);
  }

  get inFlightCount(): number {
    return this.unacked.size;
  }

  /** Unacked messages past their first delivery (attempts are counted in memory, per process). */
  get redeliveredCount(): number {
    let count = 0;
    for (const message of this.unacked.values()) {
      if (message.attempt > 1) count += 1;
    }
    return count;
  }

  async fetch(max: number, waitMs: number): Promise<Delivery[]> {
    this.throwIfClosed();
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(`fetch(max) needs a positive integer, got ${max}`);
    }
    await this.ready;
    const deadline = performance.now() + Math.max(0, waitMs);
    for (;;) {
      this.throwIfClosed();
      const version = this.signalVersion;
      const deliveries = await this.take(max);
      if (deliveries.length > 0) {
        return deliveries;
      }
      const remainingMs = deadline - performance.now();
      if (remainingMs <= 0) {
        return [];
      }
      await this.waitForSignal(version, remainingMs);
    }
  }

  async lag(): Promise<number> {
    this.throwIfClosed();
    await this.ready;
    return this.storage!.log.endOffset - this.committed - this.ackedAhead.size;
  }

  close(): Promise<void> {
    return this.shutdown(
      new Error(`Consumer group "${this.context.group}" of topic "${this.context.topic}" is closed`),
    );
  }

  /**
   * Stops timers, wakes waiting fetches (they reject with `reason`), waits for dead-letter
   * appends already started, and writes the committed offset.
   */
  shutdown(reason: Error): Promise<void> {
    this.closing ??= (async () => {
      this.closedError = reason;
      this.wakeWaiters();
      clearTimeout(this.persistTimer);
      for (const message of this.unacked.values()) {
        clearTimeout(message.timer);
      }
      await Promise.allSettled(this.deadLetterTasks);
      await this.ready.catch(() => undefined);
      this.unsubscribe?.();
      await this.persist();
      this.context.onClosed();
    })();
    return this.closing;
  }

  private async initialise(): Promise<void> {
    const storage = await this.context.storage;
    const { log, offsets } = storage;
    let committed = offsets.get(this.context.group);
    let registration: Promise<void> | undefined;
    if (committed === undefined) {
      // A new group reads everything still retained, like a broker's "deliver all" policy.
      committed = log.firstOffset;
      registration = offsets.register(this.context.group, committed);
    } else if (committed < log.firstOffset) {
      // Possible when the offset write was lost in a crash after retention ran: every group,
      // this one included, had committed past the deleted records.
      committed = log.firstOffset;
    } else if (committed > log.endOffset) {
      this.context.warn(
        `Embedded log, topic "${this.context.topic}": group "${this.context.group}" committed offset ` +
          `${committed} is past the end of the log (${log.endOffset}); continuing from the end`,
      );
      committed = log.endOffset;
    }
    this.committed = committed;
    this.persistedCommitted = committed;
    this.cursor = new LogCursor(log, committed, this.context.readChunkBytes, (from, to) => {
      for (let offset = from; offset < to; offset += 1) {
        this.acknowledge(offset);
      }
    });
    this.unsubscribe = log.onDurable(() => this.signal());
    this.storage = storage;
    await registration;
  }

  private throwIfClosed(): void {
    if (this.closedError !== undefined) {
      throw this.closedError;
    }
  }

  private take(max: number): Promise<Delivery[]> {
    const taken = this.takeQueue.then(() => this.takeNow(max));
    this.takeQueue = taken.catch(() => undefined);
    return taken;
  }

  private async takeNow(max: number): Promise<Delivery[]> {
    this.throwIfClosed();
    const deliveries: Delivery[] = [];
    // Redeliveries first: they are older than anything the cursor has not read yet.
    while (deliveries.length < max) {
      const message = this.redeliveries.shift();
      if (message === undefined) {
        break;
      }
      if (message.state === "ready" && this.unacked.get(message.offset) === message) {
        message.attempt += 1;
        deliveries.push(this.deliver(message));
      }
    }
    const cursor = this.cursor!;
    if (deliveries.length < max && cursor.hasMore()) {
      const records = await cursor.read(max - deliveries.length);
      // Records read after a close are dropped: never acked, they are redelivered after reopen.
      this.throwIfClosed();
      for (const record of records) {
        const message: UnackedMessage = {
          offset: record.offset,
          data: record.payload,
          attempt: 1,
          state: "delivered",
          delivery: 0,
          timer: undefined,
        };
        this.unacked.set(record.offset, message);
        deliveries.push(this.deliver(message));
      }
    }
    return deliveries;
  }

  private deliver(message: UnackedMessage): Delivery {
    this.deliveryCounter += 1;
    const delivery = this.deliveryCounter;
    message.state = "delivered";
    message.delivery = delivery;
    this.startVisibilityTimer(message, delivery);
    return {
      id: String(message.offset),
      data: message.data,
      attempt: message.attempt,
      ack: async () => {
        this.throwIfClosed();
        this.acknowledge(message.offset);
      },
      nak: async (delayMs = 0) => {
        this.throwIfClosed();
        await this.giveBack(message, delivery, delayMs);
      },
      touch: async () => {
        this.throwIfClosed();
        // A touch from a delivery that was settled or timed out (and maybe went to another
        // consumer) is stale: it must not keep that newer delivery invisible.
        if (this.isCurrentDelivery(message, delivery)) {
          this.startVisibilityTimer(message, delivery);
        }
      },
    };
  }

  /** (Re)starts the delivery's visibility deadline; the attempt count is left alone. */
  private startVisibilityTimer(message: UnackedMessage, delivery: number): void {
    clearTimeout(message.timer);
    message.timer = unrefTimer(
      setTimeout(() => this.visibilityExpired(message, delivery), this.context.options.visibilityTimeoutMs),
    );
  }

  private isCurrentDelivery(message: UnackedMessage, delivery: number): boolean {
    return (
      message.state === "delivered" &&
      message.delivery === delivery &&
      this.unacked.get(message.offset) === message
    );
  }

  private visibilityExpired(message: UnackedMessage, delivery: number): void {
    if (!this.isCurrentDelivery(message, delivery)) {
      return;
    }
    message.timer = undefined;
    if (message.attempt >= this.context.options.maxAttempts) {
      void this.deadLetter(message);
    } else {
      this.makeReady(message);
    }
  }

  private async giveBack(message: UnackedMessage, delivery: number, delayMs: number): Promise<void> {
    // A nak from a delivery that already timed out (and maybe went to another consumer) is stale.
    if (!this.isCurrentDelivery(message, delivery)) {
      return;
    }
    clearTimeout(message.timer);
    message.timer = undefined;
    if (message.attempt >= this.context.options.maxAttempts) {
      await this.deadLetter(message);
    } else if (delayMs > 0) {
      this.waitThen(message, delayMs, () => this.makeReady(message));
    } else {
      this.makeReady(message);
    }
  }

  private waitThen(message: UnackedMessage, delayMs: number, action: () => void): void {
    message.state = "waiting";
    message.timer = unrefTimer(
      setTimeout(() => {
        message.timer = undefined;
        if (message.state === "waiting" && this.unacked.get(message.offset) === message) {
          action();
        }
      }, delayMs),
    );
  }

  private makeReady(message: UnackedMessage): void {
    message.state = "ready";
    this.redeliveries.push(message);
    this.signal();
  }

  /**
   * Appends the message to the dead-letter topic (durably) and only then counts it as acked, so a
   * crash in between redelivers it rather than losing it. Never rejects.
   */
  private deadLetter(message: UnackedMessage): Promise<void> {
    message.state = "dead-lettering";
    const task = this.context.appendDeadLetter(this.deadLetterTopic, message.data).then(
      () => this.acknowledge(message.offset),
      (error: unknown) => {
        if (this.closedError !== undefined || this.unacked.get(message.offset) !== message) {
          return;
        }
        const retryMs = this.context.options.visibilityTimeoutMs;
        this.context.warn(
          `Embedded log, topic "${this.context.topic}": group "${this.context.group}" could not ` +
            `dead-letter offset ${message.offset} to "${this.deadLetterTopic}" (${String(error)}); ` +
            `retrying in ${retryMs} ms`,
        );
        this.waitThen(message, retryMs, () => void this.deadLetter(message));
      },
    );
    this.deadLetterTasks.add(task);
    void task.finally(() => this.deadLetterTasks.delete(task));
    return task;
  }

  /** Marks `offset` done. Idempotent; also used for offsets the cursor had to skip. */
  private acknowledge(offset: number): void {
    const message = this.unacked.get(offset);
    if (message !== undefined) {
      clearTimeout(message.timer);
      message.timer = undefined;
      this.unacked.delete(offset);
    }
    if (offset < this.committed || this.ackedAhead.has(offset)) {
      return;
    }
    if (offset !== this.committed) {
      this.ackedAhead.add(offset);
      return;
    }
    this.committed += 1;
    while (this.ackedAhead.delete(this.committed)) {
      this.committed += 1;
    }
    this.schedulePersist();
  }

  private schedulePersist(): void {
    if (this.persistTimer !== undefined || this.closedError !== undefined) {
      return;
    }
    this.persistTimer = unrefTimer(
      setTimeout(() => {
        this.persistTimer = undefined;
        void this.persist();
      }, this.context.persistIntervalMs),
    );
  }

  /** Writes the committed offset, then lets retention delete segments every group is done with. */
  private persist(): Promise<void> {
    const run = this.persistQueue.then(async () => {
      const storage = this.storage;
      const committed = this.committed;
      if (storage === undefined || committed === this.persistedCommitted) {
        return;
      }
      try {
        await storage.offsets.save(this.context.group, committed);
        this.persistedCommitted = committed;
        const lowest = storage.offsets.lowest();
        if (lowest !== undefined) {
          await storage.log.deleteSegmentsBelow(lowest);
        }
      } catch (error) {
        this.context.warn(
          `Embedded log, topic "${this.context.topic}": could not save the committed offset of group ` +
            `"${this.context.group}" (${String(error)}); will retry`,
        );
        this.schedulePersist();
      }
    });
    this.persistQueue = run;
    return run;
  }

  private signal(): void {
    this.signalVersion += 1;
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    for (const wake of this.waiters) {
      wake();
    }
  }

  /** Resolves on the next signal after `version` (at once if it already happened) or after `timeoutMs`. */
  private waitForSignal(version: number, timeoutMs: number): Promise<void> {
    if (version !== this.signalVersion || this.closedError !== undefined) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.waiters.add(wake);
    });
  }
}
