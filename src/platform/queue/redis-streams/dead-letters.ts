import type { Redis } from "ioredis";
import type { DeadLetterSource } from "../dead-letter-replay.js";
import { type DeadLetter, InvalidDeadLetterIdError } from "../stream.js";
import type { StreamScripts } from "./lua-scripts.js";
import { asArray, asBytes, asInteger, asText } from "./replies.js";

const ENTRY_ID = /^\d{1,20}-\d{1,20}$/;

export interface RedisDeadLetterContext {
  readonly redis: Redis;
  readonly scripts: StreamScripts;
  /** The topic whose dead letters these are; the original topic when an entry does not say. */
  readonly topic: string;
  /** The dead-letter stream's key. */
  readonly deadLetterKey: string;
  /** The stream key of a topic (validates the name). */
  streamKeyOf(topic: string): string;
  /** MAXLEN for re-appends, as for appends; 0: none. */
  readonly maxLength: number;
}

/**
 * The dead-letter stream of one topic. Entries are written by claim-3.lua and dead-letter-3.lua
 * as `d` (the message), `source-topic`, `source-id`, `group` and `attempts`; the entry id's first
 * part is the time it was dead-lettered. Replays (replay-dead-letter-2.lua) move an entry back
 * atomically, so neither a duplicate nor a loss is possible here; no `dedupId` is needed.
 */
export class RedisDeadLetters implements DeadLetterSource {
  constructor(private readonly context: RedisDeadLetterContext) {}

  async list(after: string | undefined, limit: number): Promise<DeadLetter[]> {
    if (after !== undefined) assertEntryId(after);
    const { redis, deadLetterKey } = this.context;
    const reply = await redis.callBuffer(
      "XRANGE",
      deadLetterKey,
      after === undefined ? "-" : `(${after}`,
      "+",
      "COUNT",
      limit,
    );
    return asArray(reply, "XRANGE").map((entry) => this.parse(entry));
  }

  async find(ids: readonly string[]): Promise<DeadLetter[]> {
    for (const id of ids) assertEntryId(id);
    const { redis, deadLetterKey } = this.context;
    const replies = await Promise.all(ids.map((id) => redis.callBuffer("XRANGE", deadLetterKey, id, id)));
    return replies.flatMap((reply) => asArray(reply, "XRANGE").map((entry) => this.parse(entry)));
  }

  async count(): Promise<number> {
    return asInteger(await this.context.redis.call("XLEN", this.context.deadLetterKey), "XLEN");
  }

  async replay(deadLetter: DeadLetter): Promise<boolean> {
    const { redis, scripts, deadLetterKey, maxLength } = this.context;
    const moved = await scripts.replayDeadLetter.run(
      redis,
      [deadLetterKey, this.context.streamKeyOf(deadLetter.originalTopic)],
      [deadLetter.id, maxLength],
    );
    return asInteger(moved, "replay script") === 1;
  }

  private parse(entry: unknown): DeadLetter {
    const [rawId, rawFields] = asArray(entry, "XRANGE entry");
    const id = asText(rawId, "entry id");
    const fields = new Map<string, Buffer>();
    const items = rawFields === null ? [] : asArray(rawFields, "entry fields");
    for (let index = 0; index + 1 < items.length; index += 2) {
      fields.set(asText(items[index], "entry field name"), asBytes(items[index + 1], "entry field"));
    }
    const attempts = Number(fields.get("attempts")?.toString("utf8"));
    const group = fields.get("group")?.toString("utf8");
    return {
      id,
      data: fields.get("d") ?? Buffer.alloc(0),
      originalTopic: fields.get("source-topic")?.toString("utf8") || this.context.topic,
      ...(group ? { group } : {}),
      ...(Number.isSafeInteger(attempts) && attempts > 0 ? { attempts } : {}),
      deadLetteredAt: Number(id.slice(0, id.indexOf("-"))),
    };
  }
}

function assertEntryId(id: string): void {
  if (!ENTRY_ID.test(id)) {
    throw new InvalidDeadLetterIdError(id, 'a Redis stream entry id such as "1700000000000-0"');
  }
}
