import type {
  AppendOptions,
  ConsumerGroup,
  DeadLetter,
  DeadLetterQuery,
  Delivery,
  GroupOptions,
  ReplayResult,
  Stream,
  TopicStats,
} from "../../src/platform/queue/stream.js";

/** What one append does: as asked, or fails before storing, or stores and then reports failure. */
export type AppendFate = "ok" | "fail" | "lands-then-fails";

/** An append held by the test until it decides its fate. */
export interface HeldAppend {
  /** The order id of the message (its dedup id). */
  readonly dedupId: string | undefined;
  settle(fate: AppendFate): void;
}

interface Message {
  readonly seq: number;
  readonly data: Uint8Array;
  acked: boolean;
  inFlight: boolean;
  attempts: number;
}

/**
 * An in-memory Stream for deterministic tests of the order path, with faults where real brokers
 * have them: an append can fail, hang until the test says, or land and still report failure (a
 * broker that stored the message but whose acknowledgement was lost). One topic's groups share the
 * message list; redelivery happens when the test asks (`redeliverInFlight`), not on a timer.
 */
export class ScriptedStream implements Stream {
  /**
   * When set, decides each append: its fate, and a step awaited between the message landing (or
   * not) and its answer reaching the caller (the race explorer schedules both).
   */
  onAppend:
    | ((dedupId: string | undefined) => Promise<{ fate: AppendFate; replied: () => Promise<unknown> }>)
    | undefined;
  private readonly messages: Message[] = [];
  private readonly dead: { id: string; data: Uint8Array }[] = [];
  private readonly planned: AppendFate[] = [];
  private holdNext = 0;
  private readonly waiting: ((held: HeldAppend) => void)[] = [];
  readonly held: HeldAppend[] = [];

  /** `fetchWaitMs`: how long an empty fetch waits (a worker loop must not spin); 0 for tests that step workers by hand. */
  constructor(private readonly options: { fetchWaitMs?: number } = {}) {}

  /** The next appends (in order) meet these fates; unplanned ones succeed. */
  plan(...fates: AppendFate[]): void {
    this.planned.push(...fates);
  }

  /** The next append waits for `settle`; resolves with it once it has started. */
  hold(): Promise<HeldAppend> {
    this.holdNext++;
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Every message appended (landed), in order, as its text. */
  landed(): string[] {
    return this.messages.map((m) => Buffer.from(m.data).toString("utf8"));
  }

  async append(_topic: string, data: Uint8Array, options?: AppendOptions): Promise<void> {
    if (this.onAppend) {
      const { fate, replied } = await this.onAppend(options?.dedupId);
      if (fate !== "fail") this.land(data);
      await replied();
      if (fate !== "ok") throw new Error(`append ${fate} (scripted)`);
      return;
    }
    if (this.holdNext > 0) {
      this.holdNext--;
      const fate = await new Promise<AppendFate>((resolve) => {
        const held: HeldAppend = { dedupId: options?.dedupId, settle: resolve };
        this.held.push(held);
        this.waiting.shift()?.(held);
      });
      return this.apply(fate, data);
    }
    return this.apply(this.planned.shift() ?? "ok", data);
  }

  private apply(fate: AppendFate, data: Uint8Array): void {
    if (fate === "fail") throw new Error("append failed (scripted)");
    this.land(data);
    if (fate === "lands-then-fails")
      throw new Error("append landed but its acknowledgement was lost (scripted)");
  }

  private land(data: Uint8Array): void {
    this.messages.push({ seq: this.messages.length, data, acked: false, inFlight: false, attempts: 0 });
  }

  /**
   * Moves the unacked message of this order to the dead letters, as a group does after its last
   * attempt. True when there was one.
   */
  deadLetterOrder(orderId: string): boolean {
    const message = this.messages.find(
      (m) =>
        !m.acked &&
        (JSON.parse(Buffer.from(m.data).toString("utf8")) as { orderId?: string }).orderId === orderId,
    );
    if (!message) return false;
    message.acked = true;
    message.inFlight = false;
    this.dead.push({ id: String(message.seq), data: message.data });
    return true;
  }

  /** Makes every delivered, unacked message deliverable again (a worker died holding them). */
  redeliverInFlight(): void {
    for (const message of this.messages) message.inFlight = false;
  }

  group(_topic: string, _group: string, _options: GroupOptions): ConsumerGroup {
    const messages = this.messages;
    const waitLimitMs = this.options.fetchWaitMs ?? 5;
    return {
      async fetch(max: number, waitMs: number): Promise<Delivery[]> {
        let ready = messages.filter((m) => !m.acked && !m.inFlight).slice(0, max);
        if (ready.length === 0 && waitLimitMs > 0) {
          // As a real group does, wait a little for messages (never spin the event loop).
          await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, waitLimitMs)));
          ready = messages.filter((m) => !m.acked && !m.inFlight).slice(0, max);
        }
        return ready.map((message) => {
          message.inFlight = true;
          message.attempts++;
          return {
            id: String(message.seq),
            data: message.data,
            attempt: message.attempts,
            ack: async () => {
              message.acked = true;
              message.inFlight = false;
            },
            nak: async () => {
              message.inFlight = false;
            },
            // Redelivery is the test's to trigger (redeliverInFlight), so there is nothing to extend.
            touch: async () => {},
          };
        });
      },
      async lag(): Promise<number> {
        return messages.filter((m) => !m.acked).length;
      },
      async close(): Promise<void> {},
    };
  }

  async stats(topic: string): Promise<TopicStats> {
    return { topic, appended: this.messages.length, deadLetters: this.dead.length, groups: [] };
  }

  async deadLetters(topic: string, query: DeadLetterQuery): Promise<DeadLetter[]> {
    return this.dead.slice(0, query.limit).map((letter) => ({ ...letter, originalTopic: topic }));
  }

  async replayDeadLetters(): Promise<ReplayResult> {
    const replayed = this.dead.splice(0);
    for (const letter of replayed) this.land(letter.data);
    return { replayed: replayed.length, missing: [] };
  }

  async close(): Promise<void> {}
}
