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

/** A message's state in one consumer group. */
interface GroupState {
  acked: boolean;
  inFlight: boolean;
  attempts: number;
}

interface Message {
  readonly seq: number;
  readonly data: Uint8Array;
  readonly groups: Map<string, GroupState>;
}

/**
 * An in-memory Stream for deterministic tests of the order path, with faults where real brokers
 * have them on the scripted topic (the order requests, by default): an append can fail, hang until
 * the test says, or land and still report failure (a broker that stored the message but whose
 * acknowledgement was lost). Other topics just work. Each consumer group keeps its own place;
 * redelivery happens when the test asks (`redeliverInFlight`), not on a timer.
 */
export class ScriptedStream implements Stream {
  /**
   * When set, decides each append to the scripted topic: its fate, and a step awaited between the
   * message landing (or not) and its answer reaching the caller (the race explorer schedules both).
   */
  onAppend:
    | ((dedupId: string | undefined) => Promise<{ fate: AppendFate; replied: () => Promise<unknown> }>)
    | undefined;
  private readonly topics = new Map<string, Message[]>();
  private readonly dead: { id: string; data: Uint8Array }[] = [];
  private readonly planned: AppendFate[] = [];
  private holdNext = 0;
  private readonly waiting: ((held: HeldAppend) => void)[] = [];
  readonly held: HeldAppend[] = [];

  /**
   * `fetchWaitMs`: how long an empty fetch waits (a consumer loop must not spin); 0 for tests that
   * step workers by hand. `scriptedTopic`: the topic whose appends meet the planned faults.
   */
  constructor(private readonly options: { fetchWaitMs?: number; scriptedTopic?: string } = {}) {}

  private get scriptedTopic(): string {
    return this.options.scriptedTopic ?? "orders.requested";
  }

  private messagesOf(topic: string): Message[] {
    let messages = this.topics.get(topic);
    if (!messages) {
      messages = [];
      this.topics.set(topic, messages);
    }
    return messages;
  }

  /** The next appends to the scripted topic (in order) meet these fates; unplanned ones succeed. */
  plan(...fates: AppendFate[]): void {
    this.planned.push(...fates);
  }

  /** The next append to the scripted topic waits for `settle`; resolves with it once it has started. */
  hold(): Promise<HeldAppend> {
    this.holdNext++;
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Every message appended (landed) to a topic, in order, as its text. */
  landed(topic = this.scriptedTopic): string[] {
    return this.messagesOf(topic).map((m) => Buffer.from(m.data).toString("utf8"));
  }

  async append(topic: string, data: Uint8Array, options?: AppendOptions): Promise<void> {
    if (topic !== this.scriptedTopic) return this.land(topic, data);
    if (this.onAppend) {
      const { fate, replied } = await this.onAppend(options?.dedupId);
      if (fate !== "fail") this.land(topic, data);
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
      return this.apply(topic, fate, data);
    }
    return this.apply(topic, this.planned.shift() ?? "ok", data);
  }

  private apply(topic: string, fate: AppendFate, data: Uint8Array): void {
    if (fate === "fail") throw new Error("append failed (scripted)");
    this.land(topic, data);
    if (fate === "lands-then-fails")
      throw new Error("append landed but its acknowledgement was lost (scripted)");
  }

  private land(topic: string, data: Uint8Array): void {
    const messages = this.messagesOf(topic);
    messages.push({ seq: messages.length, data, groups: new Map() });
  }

  /**
   * Moves the order's message out of every group's reach into the dead letters, as a group does
   * after its last attempt. True when there was one.
   */
  deadLetterOrder(orderId: string): boolean {
    const message = this.messagesOf(this.scriptedTopic).find(
      (m) => (JSON.parse(Buffer.from(m.data).toString("utf8")) as { orderId?: string }).orderId === orderId,
    );
    if (!message) return false;
    message.groups.set("*dead*", { acked: true, inFlight: false, attempts: 0 });
    this.dead.push({ id: String(message.seq), data: message.data });
    return true;
  }

  /** Makes every delivered, unacked message deliverable again (a worker died holding them). */
  redeliverInFlight(): void {
    for (const messages of this.topics.values()) {
      for (const message of messages) for (const state of message.groups.values()) state.inFlight = false;
    }
  }

  group(topic: string, group: string, _options: GroupOptions): ConsumerGroup {
    const messages = this.messagesOf(topic);
    const waitLimitMs = this.options.fetchWaitMs ?? 5;
    const stateOf = (message: Message): GroupState | undefined => {
      if (message.groups.get("*dead*")) return undefined; // dead-lettered: gone from every group
      let state = message.groups.get(group);
      if (!state) {
        state = { acked: false, inFlight: false, attempts: 0 };
        message.groups.set(group, state);
      }
      return state;
    };
    const ready = (max: number) =>
      messages
        .filter((m) => {
          const state = stateOf(m);
          return state !== undefined && !state.acked && !state.inFlight;
        })
        .slice(0, max);
    return {
      async fetch(max: number, waitMs: number): Promise<Delivery[]> {
        let batch = ready(max);
        if (batch.length === 0 && waitLimitMs > 0) {
          // As a real group does, wait a little for messages (never spin the event loop).
          await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, waitLimitMs)));
          batch = ready(max);
        }
        return batch.map((message) => {
          const state = stateOf(message)!;
          state.inFlight = true;
          state.attempts++;
          return {
            id: String(message.seq),
            data: message.data,
            attempt: state.attempts,
            ack: async () => {
              state.acked = true;
              state.inFlight = false;
            },
            nak: async () => {
              state.inFlight = false;
            },
            // Redelivery is the test's to trigger (redeliverInFlight), so there is nothing to extend.
            touch: async () => {},
          };
        });
      },
      async lag(): Promise<number> {
        return messages.filter((m) => {
          const state = stateOf(m);
          return state !== undefined && !state.acked;
        }).length;
      },
      async close(): Promise<void> {},
    };
  }

  async stats(topic: string): Promise<TopicStats> {
    const deadLetters = topic === this.scriptedTopic ? this.dead.length : 0;
    return { topic, appended: this.messagesOf(topic).length, deadLetters, groups: [] };
  }

  async deadLetters(topic: string, query: DeadLetterQuery): Promise<DeadLetter[]> {
    if (topic !== this.scriptedTopic) return [];
    return this.dead.slice(0, query.limit).map((letter) => ({ ...letter, originalTopic: topic }));
  }

  async replayDeadLetters(): Promise<ReplayResult> {
    const replayed = this.dead.splice(0);
    for (const letter of replayed) this.land(this.scriptedTopic, letter.data);
    return { replayed: replayed.length, missing: [] };
  }

  async close(): Promise<void> {}
}
