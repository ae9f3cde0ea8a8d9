import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type MsgRequest,
  type StoredMsg,
} from "@nats-io/jetstream";
import type { DeadLetterSource } from "../dead-letter-replay.js";
import { type DeadLetter, InvalidDeadLetterIdError } from "../stream.js";
import type { TopicNames } from "./names.js";

/** "Message delete failed": the server's answer when the sequence is already gone. */
const MESSAGE_DELETE_FAILED = 10057;
const SEQUENCE = /^[1-9]\d{0,15}$/;

export interface JetStreamDeadLetterContext {
  readonly manager: JetStreamManager;
  /** The topic whose dead letters these are; the original topic when a message does not say. */
  readonly topic: string;
  readonly deadLetterNames: TopicNames;
  /** The names of a topic (validates it). */
  namesOf(topic: string): TopicNames;
  /** Appends and resolves on the server's PubAck. */
  publish(names: TopicNames, data: Uint8Array, options: { msgID: string }): Promise<void>;
}

/**
 * The dead-letter stream of one topic. Its messages carry the headers JetStreamConsumerGroup
 * writes when it dead-letters (`Floodgate-Dead-Letter-Topic`, `-Group`, `-Sequence`,
 * `-Attempts`); the id of a dead letter is its sequence in the dead-letter stream and the time
 * is the server's timestamp of that message.
 *
 * A replay publishes the message to its original topic with `Nats-Msg-Id`
 * `replay:<dead-letter stream>:<sequence>` and deletes it from the dead-letter stream only after
 * the PubAck. A crash in between leaves it in both; replaying it again within the duplicate
 * window stores it once, later it is a duplicate the consumers absorb (order ids are idempotent).
 */
export class JetStreamDeadLetters implements DeadLetterSource {
  constructor(private readonly context: JetStreamDeadLetterContext) {}

  async list(after: string | undefined, limit: number): Promise<DeadLetter[]> {
    if (after !== undefined) assertSequence(after);
    const { stream, subject } = this.context.deadLetterNames;
    const deadLetters: DeadLetter[] = [];
    let next = after === undefined ? 1 : Number(after) + 1;
    while (deadLetters.length < limit) {
      // The first message at or after `seq`: skips the gaps replays leave, one request each.
      const request = { seq: next, next_by_subj: subject } as unknown as MsgRequest;
      const message = await this.get(stream, request);
      if (message === null) break;
      deadLetters.push(this.parse(message));
      next = message.seq + 1;
    }
    return deadLetters;
  }

  async find(ids: readonly string[]): Promise<DeadLetter[]> {
    for (const id of ids) assertSequence(id);
    const { stream } = this.context.deadLetterNames;
    const messages = await Promise.all(ids.map((id) => this.get(stream, { seq: Number(id) })));
    return messages.filter((message) => message !== null).map((message) => this.parse(message));
  }

  async count(): Promise<number> {
    try {
      return (await this.context.manager.streams.info(this.context.deadLetterNames.stream)).state.messages;
    } catch (error) {
      if (isStreamNotFound(error)) return 0;
      throw error;
    }
  }

  async replay(deadLetter: DeadLetter): Promise<boolean> {
    const { manager, deadLetterNames } = this.context;
    await this.context.publish(this.context.namesOf(deadLetter.originalTopic), deadLetter.data, {
      msgID: `replay:${deadLetterNames.stream}:${deadLetter.id}`,
    });
    try {
      await manager.streams.deleteMessage(deadLetterNames.stream, Number(deadLetter.id), false);
      return true;
    } catch (error) {
      // Deleted meanwhile by a concurrent replay, whose append the duplicate window absorbed.
      if (error instanceof JetStreamApiError && error.code === MESSAGE_DELETE_FAILED) return false;
      throw error;
    }
  }

  private async get(stream: string, request: MsgRequest): Promise<StoredMsg | null> {
    try {
      return await this.context.manager.streams.getMessage(stream, request);
    } catch (error) {
      if (isStreamNotFound(error)) return null;
      throw error;
    }
  }

  private parse(message: StoredMsg): DeadLetter {
    const headers = message.header;
    const header = (name: string) => (headers.has(name) ? headers.get(name) : "");
    const attempts = Number(header("Floodgate-Dead-Letter-Attempts"));
    const group = header("Floodgate-Dead-Letter-Group");
    return {
      id: String(message.seq),
      data: message.data,
      originalTopic: header("Floodgate-Dead-Letter-Topic") || this.context.topic,
      ...(group ? { group } : {}),
      ...(Number.isSafeInteger(attempts) && attempts > 0 ? { attempts } : {}),
      deadLetteredAt: message.time.getTime(),
    };
  }
}

function assertSequence(id: string): void {
  if (!SEQUENCE.test(id) || !Number.isSafeInteger(Number(id))) {
    throw new InvalidDeadLetterIdError(id, "a JetStream stream sequence such as 42");
  }
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
}
