import type { DeadLetterSource } from "../dead-letter-replay.js";
import { type AppendOptions, type DeadLetter, InvalidDeadLetterIdError } from "../stream.js";
import { LogCursor } from "./log-cursor.js";
import type { ReplayedOffsets } from "./replayed-offsets.js";
import type { SegmentLog } from "./segment-log.js";

const OFFSET = /^(0|[1-9]\d{0,15})$/;
/** Records read per step while scanning for requested offsets. */
const SCAN_CHUNK = 256;

export interface EmbeddedDeadLetterContext {
  /** The topic whose dead letters these are: the embedded log records no original topic. */
  readonly topic: string;
  readonly deadLetterTopic: string;
  /** The dead-letter topic's log and replayed offsets; undefined when it was never written. */
  readonly storage: { readonly log: SegmentLog; readonly replayed: ReplayedOffsets } | undefined;
  readonly readChunkBytes: number;
  append(topic: string, data: Uint8Array, options: AppendOptions): Promise<void>;
}

/**
 * The dead-letter topic of one topic in the embedded log. Its records are bare payloads (no
 * attempts, group or time are recorded), and its id is the record's offset. The log is
 * append-only, so a replayed record is hidden through ReplayedOffsets rather than deleted; a
 * consumer group reading the dead-letter topic itself still receives it.
 *
 * A replay appends to the original topic with dedupId `replay:<dead-letter topic>:<offset>`
 * (honoured within the in-memory window), then records the offset. A crash in between leaves it
 * listed, and a later replay appends it again: consumers absorb the duplicate (order ids are
 * idempotent).
 */
export class EmbeddedDeadLetters implements DeadLetterSource {
  constructor(private readonly context: EmbeddedDeadLetterContext) {}

  async list(after: string | undefined, limit: number): Promise<DeadLetter[]> {
    const start = after === undefined ? 0 : parseOffset(after) + 1;
    const storage = this.context.storage;
    if (storage === undefined) return [];
    const cursor = this.cursor(storage.log, Math.max(start, storage.log.firstOffset));
    const deadLetters: DeadLetter[] = [];
    while (deadLetters.length < limit && cursor.hasMore()) {
      for (const record of await cursor.read(Math.min(SCAN_CHUNK, limit - deadLetters.length))) {
        if (!storage.replayed.has(record.offset)) deadLetters.push(this.deadLetter(record));
      }
    }
    return deadLetters;
  }

  async find(ids: readonly string[]): Promise<DeadLetter[]> {
    const wanted = new Set(ids.map(parseOffset));
    const storage = this.context.storage;
    if (storage === undefined || wanted.size === 0) return [];
    const highest = Math.max(...wanted);
    // One pass from the lowest requested offset: offsets are implicit in the files, so reading
    // record by record is the only way to a given one anyway.
    const cursor = this.cursor(storage.log, Math.max(Math.min(...wanted), storage.log.firstOffset));
    const found: DeadLetter[] = [];
    let next = 0;
    while (cursor.hasMore() && next <= highest) {
      for (const record of await cursor.read(SCAN_CHUNK)) {
        next = record.offset + 1;
        if (wanted.has(record.offset) && !storage.replayed.has(record.offset)) {
          found.push(this.deadLetter(record));
        }
      }
    }
    return found;
  }

  async count(): Promise<number> {
    const storage = this.context.storage;
    if (storage === undefined) return 0;
    const { log, replayed } = storage;
    return log.endOffset - log.firstOffset - replayed.countFrom(log.firstOffset);
  }

  async replay(deadLetter: DeadLetter): Promise<boolean> {
    const offset = parseOffset(deadLetter.id);
    const replayed = this.context.storage?.replayed;
    if (replayed === undefined || !replayed.begin(offset)) return false;
    try {
      await this.context.append(deadLetter.originalTopic, deadLetter.data, {
        dedupId: `replay:${this.context.deadLetterTopic}:${offset}`,
      });
      await replayed.add(offset);
      return true;
    } finally {
      replayed.end(offset);
    }
  }

  private cursor(log: SegmentLog, start: number): LogCursor {
    // A gap (retention, damage) simply is not listed.
    return new LogCursor(log, start, this.context.readChunkBytes, () => undefined);
  }

  private deadLetter(record: { offset: number; payload: Uint8Array }): DeadLetter {
    return { id: String(record.offset), data: record.payload, originalTopic: this.context.topic };
  }
}

function parseOffset(id: string): number {
  const offset = Number(id);
  if (!OFFSET.test(id) || !Number.isSafeInteger(offset)) {
    throw new InvalidDeadLetterIdError(id, "an embedded log offset such as 42");
  }
  return offset;
}
