import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  type JetStreamManager,
  ReplayPolicy,
} from "@nats-io/jetstream";
import { headers, type Msg, type MsgHdrs, type NatsConnection, nanos } from "@nats-io/transport-node";
import { RetryingSetup } from "../retrying-setup.js";
import type { ConsumerGroup, Delivery, GroupOptions } from "../stream.js";
import { WakeableSleep } from "../wakeable-sleep.js";
import { parseAckSubject } from "./ack-subject.js";
import type { TopicNames } from "./names.js";
import {
  type PendingPull,
  type PullEnd,
  type PullOutcome,
  type PullRequest,
  startPull,
} from "./pull-request.js";
import { isTransientNatsError } from "./transient-errors.js";

/** What a consumer group needs from the stream that created it. */
export interface JetStreamGroupHost {
  readonly connection: NatsConnection;
  readonly manager: JetStreamManager;
  /** Bound on every request to the server: acks, naks, consumer management, pull answers. */
  readonly requestTimeoutMs: number;
  ensureStream(names: TopicNames): Promise<void>;
  /** Appends and resolves on the server's PubAck. */
  publish(names: TopicNames, data: Uint8Array, options: { msgID: string; headers: MsgHdrs }): Promise<void>;
  isConnected(): boolean;
  /** Calls `listener` on every disconnect and reconnect; returns an unsubscribe. */
  onConnectionChange(listener: () => void): () => void;
  warn(message: string): void;
  onGroupClosed(group: JetStreamConsumerGroup): void;
}

export interface JetStreamGroupContext {
  readonly host: JetStreamGroupHost;
  readonly names: TopicNames;
  readonly deadLetterNames: TopicNames;
  readonly group: string;
  /** The durable consumer's name: the group name with dots written as "~". */
  readonly durable: string;
  readonly options: GroupOptions;
}

/**
 * - in-flight: handed to the caller, not yet acked or nak'ed, visibility not yet expired.
 * - settled: acked, nak'ed, released or being dead-lettered; nothing more to do locally.
 * - expired: the visibility timeout passed; the server redelivers it, maybe to someone else.
 */
type InFlightState = "in-flight" | "settled" | "expired";

interface InFlightMessage {
  /** The delivery's ack subject; unique per delivery, so it also keys the in-flight map. */
  readonly reply: string;
  readonly streamSequence: number;
  readonly attempt: number;
  readonly data: Uint8Array;
  readonly headers: Readonly<Record<string, string>> | undefined;
  state: InFlightState;
  timer: NodeJS.Timeout | undefined;
}

/** How long a fetch that cannot reach the server waits before trying again. */
const UNREACHABLE_RETRY_MS = 250;

/**
 * One consumer group of one topic: a durable pull consumer on the topic's stream.
 *
 * Attempts are the server's delivery count, so they survive restarts of this process. The
 * server's `max_deliver` is left unlimited on purpose and the adapter enforces `maxAttempts`
 * itself. When JetStream reaches `max_deliver` it simply stops delivering the message and
 * publishes a MAX_DELIVERIES advisory: a core NATS message that is lost if no process happens
 * to be subscribed at that moment, and with it the message. Here nothing is ever dropped by the
 * server; a message leaves the group only after it has been durably appended to the dead-letter
 * topic:
 * - nak on the last attempt: dead-lettered there and then;
 * - visibility expiring on the last attempt while this process lives: dead-lettered by a timer;
 * - the process holding the last attempt died: the server redelivers it once more, and whichever
 *   fetch receives a delivery beyond `maxAttempts` dead-letters it instead of handing it out.
 * Dead letters are published with a Nats-Msg-Id derived from the source stream, consumer and
 * sequence, so two of those paths racing for the same message store it once; the source message
 * is then terminated (+TERM). If the dead-letter append fails, the message stays pending and the
 * next redelivery tries again.
 */
export class JetStreamConsumerGroup implements ConsumerGroup {
  private readonly inFlight = new Map<string, InFlightMessage>();
  private readonly activePulls = new Set<PendingPull>();
  private readonly deadLetterTasks = new Set<Promise<void>>();
  /** Woken on close and on connection changes, so waiting fetches re-check their situation. */
  private readonly sleeps = new WakeableSleep();
  private readonly unsubscribeConnection: () => void;
  private readonly consumerReady = new RetryingSetup(() => this.createConsumer());
  private closedError: Error | undefined;
  private closing: Promise<void> | undefined;
  private readonly pullSubject: string;
  private readonly maxAttempts: number;
  private readonly visibilityTimeoutMs: number;

  constructor(private readonly context: JetStreamGroupContext) {
    const { host, names, durable, options } = context;
    this.pullSubject = `$JS.API.CONSUMER.MSG.NEXT.${names.stream}.${durable}`;
    this.maxAttempts = options.maxAttempts;
    this.visibilityTimeoutMs = options.visibilityTimeoutMs;
    this.unsubscribeConnection = host.onConnectionChange(() => this.wakeSleepers());
    // Failures surface through fetch/lag; this only keeps an unused group from crashing the process.
    this.consumerReady.ensure().catch(() => undefined);
  }

  get topic(): string {
    return this.context.names.topic;
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
      if (!this.context.host.isConnected()) {
        // A pull sent now would wait in the client's buffer and reach the server after the
        // reconnect, long after this fetch returned: its messages would go to a dead inbox.
        if (remaining() <= 0) {
          return [];
        }
        await this.sleep(remaining());
        continue;
      }
      try {
        await this.consumerReady.ensure();
      } catch (error) {
        if (!isTransientNatsError(error)) {
          throw error;
        }
        if (remaining() <= 0) {
          return [];
        }
        await this.sleep(Math.min(remaining(), UNREACHABLE_RETRY_MS));
        continue;
      }
      // One request does it all: with no_wait and expires together the server delivers what is
      // available and ends the request at once, or, when nothing is, waits up to `expires` for
      // the first message(s). The expiry is the server's (never a bare no_wait, which 2.9 can
      // leave unanswered when a message is terminated while being redelivered).
      const waitedFor = Math.max(1, remaining());
      const { messages, end } = await this.pull(
        { batch: max, noWait: true, expiresMs: waitedFor },
        waitedFor + this.context.host.requestTimeoutMs,
      );
      const deliveries = this.accept(messages);
      if (deliveries.length > 0 || remaining() <= 0) {
        return deliveries;
      }
      if (messages.length === 0 && !(end.kind === "status" && end.code === 408)) {
        // Ended early without waiting (consumer gone, limits, a server without no_wait+expires):
        // pause before asking again rather than spin.
        await this.sleep(Math.min(remaining(), UNREACHABLE_RETRY_MS));
      }
      // Otherwise everything received was dead-lettered: keep waiting for the rest of waitMs.
    }
  }

  async lag(): Promise<number> {
    this.throwIfClosed();
    await this.consumerReady.ensure();
    const info = await this.context.host.manager.consumers.info(
      this.context.names.stream,
      this.context.durable,
    );
    // Not yet delivered, plus delivered and not yet acked (in flight, nak'ed or awaiting redelivery).
    return info.num_pending + info.num_ack_pending;
  }

  close(): Promise<void> {
    return this.shutdown(
      new Error(`Consumer group "${this.context.group}" of topic "${this.context.names.topic}" is closed`),
    );
  }

  /**
   * Ends waiting fetches (they reject with `reason`), gives every delivery this process still
   * holds back to the server at once (a nak, so others need not wait out the visibility timeout),
   * and waits for dead-letter appends already started.
   */
  shutdown(reason: Error): Promise<void> {
    this.closing ??= (async () => {
      this.closedError = reason;
      this.unsubscribeConnection();
      this.wakeSleepers();
      for (const pull of this.activePulls) {
        pull.cancel();
      }
      const outstanding = [...this.inFlight.values()].sort(
        (left, right) => left.streamSequence - right.streamSequence,
      );
      this.inFlight.clear();
      for (const message of outstanding) {
        clearTimeout(message.timer);
        message.state = "settled";
      }
      // Naks sent in sequence order come back in that order. Without a connection there is no
      // point waiting for each to time out: the server redelivers them after the ack wait anyway.
      if (this.context.host.isConnected()) {
        await Promise.allSettled(outstanding.map((message) => this.respond(message.reply, "-NAK")));
      }
      await Promise.allSettled(this.deadLetterTasks);
      this.context.host.onGroupClosed(this);
    })();
    return this.closing;
  }

  private async createConsumer(): Promise<void> {
    const { host, names, durable, group, options } = this.context;
    await host.ensureStream(names);
    const config: Partial<ConsumerConfig> = {
      durable_name: durable,
      description: `Floodgate consumer group "${group}" of topic "${names.topic}"`,
      ack_policy: AckPolicy.Explicit,
      // A new group reads everything the stream still holds, like the embedded log.
      deliver_policy: DeliverPolicy.All,
      replay_policy: ReplayPolicy.Instant,
      ack_wait: nanos(options.visibilityTimeoutMs),
      // Unlimited: maxAttempts is enforced by this adapter, see the class comment.
      max_deliver: -1,
    };
    // Creates the durable, or updates ack_wait of an existing one whose options changed.
    await host.manager.consumers.add(names.stream, config);
  }

  private async pull(request: PullRequest, clientTimeoutMs: number): Promise<PullOutcome> {
    const pending = startPull(this.context.host.connection, this.pullSubject, request, clientTimeoutMs);
    this.activePulls.add(pending);
    // A disconnect ends the server's side of the request: stop waiting for it.
    const stopWatching = this.context.host.onConnectionChange(() => pending.cancel());
    let outcome: PullOutcome;
    try {
      outcome = await pending.outcome;
    } finally {
      this.activePulls.delete(pending);
      stopWatching();
    }
    if (this.closedError !== undefined) {
      // Received after close began: give them straight back rather than leave them invisible.
      await Promise.allSettled(outcome.messages.map((message) => this.respond(message.reply!, "-NAK")));
      throw this.closedError;
    }
    this.noteEnd(outcome.end);
    return outcome;
  }

  private noteEnd(end: PullEnd): void {
    if (end.kind !== "status") {
      return;
    }
    // 503: nothing serves the consumer's pull subject (consumer or stream deleted, JetStream
    // restarting); 409 "Consumer Deleted": likewise. Ensure the consumer again on the next fetch.
    if (end.code === 503 || (end.code === 409 && /deleted/i.test(end.description))) {
      this.consumerReady.reset();
    } else if (end.code === 409) {
      this.context.host.warn(
        `JetStream consumer "${this.context.durable}" of stream "${this.context.names.stream}" ` +
          `refused a pull request: ${end.description}`,
      );
    }
  }

  /** Turns received messages into deliveries; messages beyond maxAttempts are dead-lettered instead. */
  private accept(messages: readonly Msg[]): Delivery[] {
    const deliveries: Delivery[] = [];
    for (const message of messages) {
      const reply = message.reply!;
      const { deliveryCount, streamSequence } = parseAckSubject(reply);
      const inFlight: InFlightMessage = {
        reply,
        streamSequence,
        attempt: deliveryCount,
        data: message.data,
        headers: callerHeaders(message.headers),
        state: "in-flight",
        timer: undefined,
      };
      if (deliveryCount > this.maxAttempts) {
        // Its last attempt ended without an ack and nobody dead-lettered it (the process holding
        // it died, or a dead-letter append failed): do it now.
        inFlight.state = "settled";
        void this.deadLetter(inFlight);
        continue;
      }
      this.startVisibilityTimer(inFlight);
      this.inFlight.set(reply, inFlight);
      deliveries.push(this.toDelivery(inFlight));
    }
    return deliveries;
  }

  private toDelivery(message: InFlightMessage): Delivery {
    return {
      id: String(message.streamSequence),
      data: message.data,
      attempt: message.attempt,
      ...(message.headers ? { headers: message.headers } : {}),
      ack: async () => {
        this.throwIfClosed();
        // Sent even when the visibility expired: an ack from a slow consumer still completes
        // the message (the port is at-least-once; a redelivery may already be under way).
        this.settle(message);
        await this.respond(message.reply, "+ACK");
      },
      nak: async (delayMs = 0) => {
        this.throwIfClosed();
        // A nak from a delivery that already timed out (and maybe went to another consumer) is stale.
        if (message.state !== "in-flight") {
          return;
        }
        this.settle(message);
        if (message.attempt >= this.maxAttempts) {
          await this.deadLetter(message);
        } else if (delayMs > 0) {
          await this.respond(message.reply, `-NAK ${JSON.stringify({ delay: nanos(delayMs) })}`);
        } else {
          await this.respond(message.reply, "-NAK");
        }
      },
      touch: async () => {
        this.throwIfClosed();
        // Stale (settled, or expired and maybe redelivered): the server keys progress by stream
        // sequence, so a late +WPI would keep the newer delivery invisible.
        if (message.state !== "in-flight") {
          return;
        }
        // "Work in progress": the server restarts the ack wait and leaves the delivery count
        // alone. Our own timer restarts only once the server has applied it.
        await this.respond(message.reply, "+WPI");
        if (message.state === "in-flight") {
          this.startVisibilityTimer(message);
        }
      },
    };
  }

  /** Mirrors the server's ack wait, to dead-letter a last attempt that expires while we live. */
  private startVisibilityTimer(message: InFlightMessage): void {
    clearTimeout(message.timer);
    message.timer = setTimeout(() => this.visibilityExpired(message), this.visibilityTimeoutMs);
    message.timer.unref();
  }

  private settle(message: InFlightMessage): void {
    clearTimeout(message.timer);
    message.timer = undefined;
    message.state = "settled";
    this.inFlight.delete(message.reply);
  }

  private visibilityExpired(message: InFlightMessage): void {
    if (message.state !== "in-flight") {
      return;
    }
    message.timer = undefined;
    message.state = "expired";
    this.inFlight.delete(message.reply);
    if (message.attempt >= this.maxAttempts) {
      void this.deadLetter(message);
    }
  }

  /** Appends the message to the dead-letter topic (PubAck awaited), then terminates it here. Never rejects. */
  private deadLetter(message: InFlightMessage): Promise<void> {
    const { host, names, durable, group, deadLetterNames } = this.context;
    const metadata = headers();
    metadata.set("Floodgate-Dead-Letter-Topic", names.topic);
    metadata.set("Floodgate-Dead-Letter-Group", group);
    metadata.set("Floodgate-Dead-Letter-Sequence", String(message.streamSequence));
    metadata.set("Floodgate-Dead-Letter-Attempts", String(Math.min(message.attempt, this.maxAttempts)));
    const task = (async () => {
      try {
        await host.publish(deadLetterNames, message.data, {
          msgID: `dead-letter:${names.stream}:${durable}:${message.streamSequence}`,
          headers: metadata,
        });
        await this.respond(message.reply, "+TERM");
      } catch (error) {
        host.warn(
          `JetStream: could not move message ${message.streamSequence} of stream "${names.stream}" ` +
            `(group "${group}") to dead-letter topic "${deadLetterNames.topic}" (${String(error)}); ` +
            "it stays pending and is retried when the server redelivers it",
        );
      }
    })();
    this.deadLetterTasks.add(task);
    void task.finally(() => this.deadLetterTasks.delete(task));
    return task;
  }

  /**
   * Acks, naks and terms are sent as requests: the server answers once it has applied them, so
   * `ack()` resolving means the message is done (and `lag()` right after reflects it).
   */
  private async respond(reply: string, body: string): Promise<void> {
    await this.context.host.connection.request(reply, body, { timeout: this.context.host.requestTimeoutMs });
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

/** The headers the appender gave, without those JetStream (Nats-*) or a dead-lettering added. */
function callerHeaders(given: MsgHdrs | undefined): Readonly<Record<string, string>> | undefined {
  if (!given) return undefined;
  const result: Record<string, string> = {};
  for (const name of given.keys()) {
    if (/^(nats-|floodgate-dead-letter-)/i.test(name)) continue;
    result[name] = given.get(name);
  }
  return Object.keys(result).length > 0 ? result : undefined;
}
