import { mkdir, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { replayDeadLetters } from "../dead-letter-replay.js";
import { assertGroupOptions } from "../group-options.js";
import type {
  AppendOptions,
  ConsumerGroup,
  DeadLetter,
  DeadLetterQuery,
  DeadLetterSelection,
  GroupOptions,
  GroupStats,
  ReplayOptions,
  ReplayResult,
  Stream,
  TopicStats,
} from "../stream.js";
import { type ConsumerGroupContext, EmbeddedConsumerGroup, type TopicStorage } from "./consumer-group.js";
import { EmbeddedDeadLetters } from "./dead-letters.js";
import { DedupWindow } from "./dedup-window.js";
import { fsyncDirectory, isErrnoException } from "./durable-files.js";
import { GroupOffsetStore } from "./group-offsets.js";
import { acquireDirectoryLock, type DirectoryLock } from "./lock-file.js";
import { assertGroupName, assertTopicName } from "./names.js";
import { ReplayedOffsets } from "./replayed-offsets.js";
import { SegmentLog } from "./segment-log.js";

export interface EmbeddedStreamOptions {
  /** A segment file is sealed and a new one started once it would grow past this. Default 64 MiB. */
  readonly segmentBytes?: number;
  /** Receives recovery reports (bytes cut from a torn tail) and other non-fatal problems. */
  readonly onWarning?: (message: string) => void;
  /** Size of each read consumers make. Default 256 KiB. */
  readonly readChunkBytes?: number;
  /** Committed offsets are written at most this often (and on close). Default 50 ms. */
  readonly offsetPersistIntervalMs?: number;
  /** `dedupId`s are remembered for this long… Default 2 minutes. */
  readonly dedupWindowMs?: number;
  /** …and at most this many per topic. Default 100,000. */
  readonly dedupMaxIds?: number;
}

const DEFAULTS = {
  segmentBytes: 64 * 1024 * 1024,
  readChunkBytes: 256 * 1024,
  offsetPersistIntervalMs: 50,
  dedupWindowMs: 2 * 60 * 1000,
  dedupMaxIds: 100_000,
} as const;

interface Topic {
  readonly storage: Promise<TopicStorage>;
  /** Set once `storage` resolved, so the hot append path skips a promise hop. */
  log: SegmentLog | undefined;
  readonly dedup: DedupWindow;
  readonly groups: Map<string, EmbeddedConsumerGroup>;
  /** Loaded on first use, for dead-letter topics only. */
  replayed: Promise<ReplayedOffsets> | undefined;
}

/**
 * Opens the embedded durable log in `directory` (created if missing): the default Stream adapter,
 * needing nothing but a local disk. Only one process may have a directory open at a time.
 *
 * Layout: `<directory>/LOCK` (pid of the owner) and one directory per topic holding segment files
 * named by their zero-padded base offset plus one `<group>.offset` file per consumer group.
 *
 * Semantics beyond the Stream port:
 * - `dedupId` is honoured within an in-memory window per topic (default: the last 100,000 ids and
 *   at most 2 minutes); the window starts empty after a restart.
 * - Delivery attempt counts live in memory: after a restart every unacked message starts again
 *   at attempt 1, so a poison message may get up to `maxAttempts` more tries before dead-lettering.
 * - A group seen for the first time starts at the oldest retained record. Segments are deleted
 *   once every group known on disk has committed past them, so an abandoned group holds back
 *   retention until its `<group>.offset` file is removed. Topics without groups (typically the
 *   dead-letter topics) are never trimmed.
 * - Dead letters carry the original payload only; the source offset and attempt count are not
 *   recorded. Replayed dead letters are listed in the dead-letter topic's `replayed-offsets.txt`
 *   (see EmbeddedDeadLetters); the records themselves stay in the append-only log.
 */
export async function openEmbeddedStream(
  directory: string,
  options: EmbeddedStreamOptions = {},
): Promise<Stream> {
  // Validated before the lock is taken, so a bad option cannot leave a LOCK behind.
  const settings = resolveSettings(options);
  const root = resolve(directory);
  const created = await mkdir(root, { recursive: true });
  if (created !== undefined) {
    await fsyncDirectory(dirname(created));
  }
  const lock = await acquireDirectoryLock(root);
  return new EmbeddedStream(root, lock, settings, options.onWarning ?? (() => undefined));
}

type Settings = Required<Omit<EmbeddedStreamOptions, "onWarning">>;

function resolveSettings(options: EmbeddedStreamOptions): Settings {
  const settings: Settings = {
    segmentBytes: options.segmentBytes ?? DEFAULTS.segmentBytes,
    readChunkBytes: options.readChunkBytes ?? DEFAULTS.readChunkBytes,
    offsetPersistIntervalMs: options.offsetPersistIntervalMs ?? DEFAULTS.offsetPersistIntervalMs,
    dedupWindowMs: options.dedupWindowMs ?? DEFAULTS.dedupWindowMs,
    dedupMaxIds: options.dedupMaxIds ?? DEFAULTS.dedupMaxIds,
  };
  for (const [name, value] of Object.entries(settings)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`Embedded stream option ${name} must be a positive integer, got ${value}`);
    }
  }
  return settings;
}

class EmbeddedStream implements Stream {
  private readonly topics = new Map<string, Topic>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly directory: string,
    private readonly lock: DirectoryLock,
    private readonly settings: Settings,
    private readonly warn: (message: string) => void,
  ) {}

  append(topic: string, data: Uint8Array, options?: AppendOptions): Promise<void> {
    if (this.closing !== undefined) {
      return Promise.reject(this.closedError());
    }
    let state: Topic;
    try {
      state = this.topic(topic);
    } catch (error) {
      return Promise.reject(error);
    }
    const dedupId = options?.dedupId;
    if (dedupId === undefined) {
      return this.appendToLog(state, data);
    }
    const now = Date.now();
    const earlier = state.dedup.find(dedupId, now);
    if (earlier !== undefined) {
      return earlier;
    }
    const outcome = this.appendToLog(state, data);
    state.dedup.remember(dedupId, outcome, now);
    return outcome;
  }

  group(topic: string, group: string, options: GroupOptions): ConsumerGroup {
    if (this.closing !== undefined) {
      throw this.closedError();
    }
    assertGroupName(group);
    assertGroupOptions(group, options);
    const deadLetterTopic = options.deadLetterTopic ?? `${topic}.dead`;
    assertTopicName(deadLetterTopic);
    if (deadLetterTopic === topic) {
      throw new RangeError(`Consumer group "${group}": the dead-letter topic must differ from "${topic}"`);
    }
    const state = this.topic(topic);
    // One instance per group name (the first caller's options win): two instances would hand out
    // the same messages twice.
    const existing = state.groups.get(group);
    if (existing !== undefined) {
      return existing;
    }
    const context: ConsumerGroupContext = {
      topic,
      group,
      options,
      storage: state.storage,
      readChunkBytes: this.settings.readChunkBytes,
      persistIntervalMs: this.settings.offsetPersistIntervalMs,
      appendDeadLetter: (deadTopic, data) => this.appendToLog(this.topic(deadTopic), data),
      warn: this.warn,
      onClosed: () => {
        if (state.groups.get(group) === created) {
          state.groups.delete(group);
        }
      },
    };
    const created = new EmbeddedConsumerGroup(context);
    state.groups.set(group, created);
    return created;
  }

  async stats(topic: string): Promise<TopicStats> {
    if (this.closing !== undefined) {
      throw this.closedError();
    }
    const state = this.topic(topic);
    const { log, offsets } = await state.storage;
    const groups = new Map<string, GroupStats>();
    // Groups known on disk but not open in this process still hold back retention: show them.
    for (const [group, committed] of offsets.entries()) {
      groups.set(group, { group, lag: log.endOffset - committed, inFlight: 0, redelivered: 0 });
    }
    for (const [group, consumer] of state.groups) {
      const lag = await consumer.lag().catch(() => undefined); // undefined: it closed meanwhile
      if (lag !== undefined) {
        groups.set(group, {
          group,
          lag,
          inFlight: consumer.inFlightCount,
          redelivered: consumer.redeliveredCount,
        });
      }
    }
    const deadLetters = await (await this.deadLetterSource(topic)).count();
    return { topic, appended: log.endOffset, deadLetters, groups: [...groups.values()] };
  }

  async deadLetters(topic: string, query: DeadLetterQuery): Promise<DeadLetter[]> {
    if (this.closing !== undefined) {
      throw this.closedError();
    }
    return (await this.deadLetterSource(topic)).list(query.after, query.limit);
  }

  async replayDeadLetters(
    topic: string,
    selection: DeadLetterSelection,
    options?: ReplayOptions,
  ): Promise<ReplayResult> {
    if (this.closing !== undefined) {
      throw this.closedError();
    }
    return replayDeadLetters(await this.deadLetterSource(topic), selection, options);
  }

  /**
   * Closes groups (persisting their offsets; pending fetches reject), then flushes and closes
   * every topic log, then releases the lock. Idempotent: a second call returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = this.closedError();
      const topics = [...this.topics.values()];
      try {
        await Promise.allSettled(
          topics.flatMap((topic) => [...topic.groups.values()].map((group) => group.shutdown(closed))),
        );
        await Promise.allSettled(topics.map((topic) => topic.replayed?.then((replayed) => replayed.close())));
        const logs = await Promise.allSettled(topics.map((topic) => topic.storage));
        const results = await Promise.allSettled(
          logs.map((opened) => (opened.status === "fulfilled" ? opened.value.log.close() : undefined)),
        );
        const failure = results.find((result) => result.status === "rejected");
        if (failure !== undefined) {
          throw failure.reason;
        }
      } finally {
        await this.lock.release();
      }
    })();
    return this.closing;
  }

  private closedError(): Error {
    return new Error(`The embedded stream at ${this.directory} is closed`);
  }

  /**
   * The dead letters of `topic`, in `<topic>.dead`. A dead-letter topic that was never written is
   * not created just to be read: it has no dead letters.
   */
  private async deadLetterSource(topic: string): Promise<EmbeddedDeadLetters> {
    assertTopicName(topic);
    const deadLetterTopic = `${topic}.dead`;
    assertTopicName(deadLetterTopic);
    let state = this.topics.get(deadLetterTopic);
    if (state === undefined && (await isDirectory(join(this.directory, deadLetterTopic)))) {
      state = this.topic(deadLetterTopic);
    }
    let storage: { log: SegmentLog; replayed: ReplayedOffsets } | undefined;
    if (state !== undefined) {
      const { log } = await state.storage;
      if (state.replayed === undefined) {
        const loading = ReplayedOffsets.load(join(this.directory, deadLetterTopic));
        state.replayed = loading;
        loading.catch(() => {
          if (state?.replayed === loading) state.replayed = undefined;
        });
      }
      storage = { log, replayed: await state.replayed };
    }
    return new EmbeddedDeadLetters({
      topic,
      deadLetterTopic,
      storage,
      readChunkBytes: this.settings.readChunkBytes,
      append: (name, data, options) => this.append(name, data, options),
    });
  }

  private appendToLog(topic: Topic, data: Uint8Array): Promise<void> {
    if (topic.log !== undefined) {
      return topic.log.append(data);
    }
    return topic.storage.then(({ log }) => log.append(data));
  }

  /** The topic's state, opening its log on first use. */
  private topic(name: string): Topic {
    const existing = this.topics.get(name);
    if (existing !== undefined) {
      return existing;
    }
    assertTopicName(name);
    const directory = join(this.directory, name);
    const storage = (async (): Promise<TopicStorage> => {
      const log = await SegmentLog.open(directory, {
        topic: name,
        segmentBytes: this.settings.segmentBytes,
        warn: this.warn,
      });
      try {
        const offsets = await GroupOffsetStore.load(directory, (message) => log.warn(message));
        return { log, offsets };
      } catch (error) {
        await log.close().catch(() => undefined);
        throw error;
      }
    })();
    const topic: Topic = {
      storage,
      log: undefined,
      dedup: new DedupWindow(this.settings.dedupMaxIds, this.settings.dedupWindowMs),
      groups: new Map(),
      replayed: undefined,
    };
    storage.then(
      ({ log }) => {
        topic.log = log;
      },
      () => {
        // Forget the failed open so the next call tries again (e.g. after freeing disk space).
        if (this.topics.get(name) === topic) {
          this.topics.delete(name);
        }
      },
    );
    this.topics.set(name, topic);
    return topic;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (error) {
    if (isErrnoException(error) && error.code === "ENOENT") return false;
    throw error;
  }
}
