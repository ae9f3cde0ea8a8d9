import { type FileHandle, mkdir, open, readdir, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fsyncDirectory } from "./durable-files.js";
import { FrameReader } from "./frame-reader.js";
import { encodeRecord } from "./record-codec.js";

/** One segment file. Its records have offsets `base`, `base + 1`, … in file order. */
export interface Segment {
  readonly base: number;
  /** Durable bytes: the whole file once sealed; grows with every flushed batch while active. */
  bytes: number;
  /** Offset after the segment's last record, set when a roll seals it. */
  endOffset: number | undefined;
  /** Set once retention removed the file, so cursors still pointing at it move on. */
  deleted: boolean;
}

export interface SegmentLogOptions {
  /** Only used in messages. */
  readonly topic: string;
  readonly segmentBytes: number;
  readonly warn: (message: string) => void;
}

/**
 * Appends arriving while a batch is being written pile up in the next batch; a batch is also cut
 * at this size so one slow fsync cannot turn into a single huge write (and an oversized segment).
 */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;
/** Recovery reads the tail segment sequentially once; big reads make that cheap. */
const RECOVERY_CHUNK_BYTES = 1024 * 1024;
const SEGMENT_FILE = /^(\d{20})\.log$/;

export function segmentFileName(base: number): string {
  return `${String(base).padStart(20, "0")}.log`;
}

interface Batch {
  readonly frames: Buffer[];
  bytes: number;
  readonly durable: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

function createBatch(): Batch {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const durable = new Promise<void>((resolvePromise, rejectPromise) => {
    resolve = resolvePromise;
    reject = rejectPromise;
  });
  return { frames: [], bytes: 0, durable, resolve, reject };
}

async function writeFully(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}

/**
 * The append-only log of one topic: a directory of segment files named by the offset of their
 * first record. Appends are group-committed (one write and one fdatasync per batch, never one per
 * message), only fsync'ed records are visible to readers, and open() repairs a torn tail.
 */
export class SegmentLog {
  private readonly segments: Segment[];
  /** Offset the next appended record gets == number of records appended since the log began. */
  private durableEnd: number;
  private writeHandle: FileHandle;
  private readonly batches: Batch[] = [];
  private flushing = false;
  private idleWaiters: Array<() => void> = [];
  private readonly readHandles = new Map<Segment, Promise<FileHandle>>();
  private readonly durableListeners = new Set<() => void>();
  /** Set when a failed write could not be rolled back; the tail is then unknown until reopen. */
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  private readonly maxBatchBytes: number;

  private constructor(
    private readonly directory: string,
    private readonly options: SegmentLogOptions,
    segments: Segment[],
    durableEnd: number,
    writeHandle: FileHandle,
  ) {
    this.segments = segments;
    this.durableEnd = durableEnd;
    this.writeHandle = writeHandle;
    this.maxBatchBytes = Math.min(options.segmentBytes, MAX_BATCH_BYTES);
  }

  /** Opens (creating if needed) the log in `directory`, cutting off a torn or corrupt tail. */
  static async open(directory: string, options: SegmentLogOptions): Promise<SegmentLog> {
    const firstCreated = await mkdir(directory, { recursive: true });
    if (firstCreated !== undefined) {
      await fsyncDirectory(dirname(directory));
    }
    const bases = (await readdir(directory))
      .map((name) => SEGMENT_FILE.exec(name)?.[1])
      .filter((digits): digits is string => digits !== undefined)
      .map(Number)
      .sort((left, right) => left - right);
    if (bases.length === 0) {
      const handle = await open(join(directory, segmentFileName(0)), "wx+");
      await fsyncDirectory(directory);
      const segment: Segment = { base: 0, bytes: 0, endOffset: undefined, deleted: false };
      return new SegmentLog(directory, options, [segment], 0, handle);
    }
    const segments: Segment[] = [];
    for (const [index, base] of bases.entries()) {
      const next = bases[index + 1];
      const bytes = next === undefined ? 0 : (await stat(join(directory, segmentFileName(base)))).size;
      segments.push({ base, bytes, endOffset: next, deleted: false });
    }
    const active = segments[segments.length - 1]!;
    const handle = await open(join(directory, segmentFileName(active.base)), "r+");
    try {
      const records = await SegmentLog.recoverTail(handle, active, options);
      return new SegmentLog(directory, options, segments, active.base + records, handle);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /**
   * Scans the active segment (the only one a crash can leave half-written: a roll happens only
   * after the previous batch was fsync'ed) and truncates everything from the first frame that is
   * short or fails its checks. Returns the number of intact records.
   */
  private static async recoverTail(
    handle: FileHandle,
    active: Segment,
    options: SegmentLogOptions,
  ): Promise<number> {
    const { size } = await handle.stat();
    const reader = new FrameReader(handle, 0, RECOVERY_CHUNK_BYTES);
    let records = 0;
    for (;;) {
      const frame = reader.readBuffered(size) ?? (await reader.read(size));
      if (frame.kind === "frame") {
        records += 1;
        continue;
      }
      if (frame.kind === "damaged") {
        const cut = size - reader.position;
        await handle.truncate(reader.position);
        await handle.datasync();
        options.warn(
          `Embedded log, topic "${options.topic}": cut ${cut} bytes of torn or corrupt tail from ` +
            `${segmentFileName(active.base)} (${frame.reason}); the ${records} records before it are intact`,
        );
      }
      active.bytes = reader.position;
      return records;
    }
  }

  /** Offset of the oldest retained record. */
  get firstOffset(): number {
    return this.segments[0]!.base;
  }

  /** Offset after the last durable record: also the count of records appended since the log began. */
  get endOffset(): number {
    return this.durableEnd;
  }

  /**
   * Resolves once the record is on disk (fdatasync'ed). All appends of one batch share the
   * returned promise, so an append costs an encode and an array push, nothing more.
   */
  append(payload: Uint8Array): Promise<void> {
    if (this.closing !== undefined) {
      return Promise.reject(new Error(`Embedded log of topic "${this.options.topic}" is closed`));
    }
    if (this.failure !== undefined) {
      return Promise.reject(this.failure);
    }
    let frame: Buffer;
    try {
      frame = encodeRecord(payload);
    } catch (error) {
      return Promise.reject(error);
    }
    let batch = this.batches[this.batches.length - 1];
    if (batch === undefined || (batch.bytes > 0 && batch.bytes + frame.length > this.maxBatchBytes)) {
      batch = createBatch();
      this.batches.push(batch);
    }
    batch.frames.push(frame);
    batch.bytes += frame.length;
    if (!this.flushing) {
      this.flushing = true;
      // setImmediate rather than a microtask: every append issued in this turn of the event loop
      // (e.g. a burst of request handlers) joins the first batch instead of paying its own fsync.
      setImmediate(() => void this.flushLoop());
    }
    return batch.durable;
  }

  /** Called after every batch that made new records durable (readable). Returns an unsubscribe. */
  onDurable(listener: () => void): () => void {
    this.durableListeners.add(listener);
    return () => this.durableListeners.delete(listener);
  }

  /** The segment holding `offset`, or the oldest one when `offset` was already deleted. */
  segmentContaining(offset: number): Segment {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.segments[middle]!.base <= offset) {
        low = middle;
      } else {
        high = middle - 1;
      }
    }
    return this.segments[low]!;
  }

  /** A read-only handle shared by every reader of the segment; closed when the segment is deleted. */
  readHandle(segment: Segment): Promise<FileHandle> {
    if (this.closing !== undefined) {
      return Promise.reject(new Error(`Embedded log of topic "${this.options.topic}" is closed`));
    }
    let handle = this.readHandles.get(segment);
    if (handle === undefined) {
      handle = open(join(this.directory, segmentFileName(segment.base)), "r");
      this.readHandles.set(segment, handle);
      handle.catch(() => this.readHandles.delete(segment));
    }
    return handle;
  }

  warn(message: string): void {
    this.options.warn(`Embedded log, topic "${this.options.topic}": ${message}`);
  }

  /**
   * Deletes sealed segments whose records all lie below `offset` (the lowest committed offset of
   * every group). The active segment is always kept: it carries the end offset in its name.
   */
  async deleteSegmentsBelow(offset: number): Promise<void> {
    const doomed: Segment[] = [];
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      if (oldest.endOffset === undefined || oldest.endOffset > offset) {
        break;
      }
      this.segments.shift();
      oldest.deleted = true;
      doomed.push(oldest);
    }
    for (const segment of doomed) {
      const handle = this.readHandles.get(segment);
      this.readHandles.delete(segment);
      await handle?.then((opened) => opened.close()).catch(() => undefined);
      await unlink(join(this.directory, segmentFileName(segment.base))).catch((error: unknown) => {
        this.warn(`could not delete segment ${segmentFileName(segment.base)}: ${String(error)}`);
      });
    }
  }

  /** Flushes pending appends, then closes every file. Later appends reject. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.whenIdle();
      const readHandles = [...this.readHandles.values()];
      this.readHandles.clear();
      const results = await Promise.allSettled([
        this.writeHandle.close(),
        ...readHandles.map((handle) =>
          handle.then(
            (opened) => opened.close(),
            () => undefined,
          ),
        ),
      ]);
      const failure = results.find((result) => result.status === "rejected");
      if (failure !== undefined) {
        throw failure.reason;
      }
    })();
    return this.closing;
  }

  private whenIdle(): Promise<void> {
    if (!this.flushing) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The single writer: takes one batch at a time, so batches hit the file in append order. */
  private async flushLoop(): Promise<void> {
    for (;;) {
      const batch = this.batches.shift();
      if (batch === undefined) {
        this.flushing = false;
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const resolve of waiters) {
          resolve();
        }
        return;
      }
      await this.flushBatch(batch);
    }
  }

  private async flushBatch(batch: Batch): Promise<void> {
    try {
      if (this.failure !== undefined) {
        throw this.failure;
      }
      const active = this.activeSegment();
      if (active.bytes > 0 && active.bytes + batch.bytes > this.options.segmentBytes) {
        await this.roll();
      }
      const data = batch.frames.length === 1 ? batch.frames[0]! : Buffer.concat(batch.frames, batch.bytes);
      await writeFully(this.writeHandle, data, this.activeSegment().bytes);
      await this.writeHandle.datasync();
    } catch (error) {
      batch.reject(
        new Error(`Embedded log, topic "${this.options.topic}": append failed: ${String(error)}`, {
          cause: error,
        }),
      );
      await this.discardUnsyncedTail();
      return;
    }
    // Records become visible to readers only now, so no consumer ever sees a message whose
    // append could still be rejected.
    this.activeSegment().bytes += batch.bytes;
    this.durableEnd += batch.frames.length;
    batch.resolve();
    for (const listener of this.durableListeners) {
      listener();
    }
  }

  /**
   * After a failed write/fsync the file may hold part of the rejected batch. Cutting back to the
   * last durable size keeps offsets dense; if even that fails the log refuses further appends
   * (reopening runs the normal tail recovery).
   */
  private async discardUnsyncedTail(): Promise<void> {
    if (this.failure !== undefined) {
      return;
    }
    try {
      await this.writeHandle.truncate(this.activeSegment().bytes);
      await this.writeHandle.datasync();
    } catch (error) {
      this.failure = new Error(
        `Embedded log, topic "${this.options.topic}" stopped accepting appends after a failed write ` +
          `could not be rolled back (${String(error)}); reopen the stream to recover`,
        { cause: error },
      );
    }
  }

  private activeSegment(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  private async roll(): Promise<void> {
    const base = this.durableEnd;
    const path = join(this.directory, segmentFileName(base));
    const handle = await open(path, "wx");
    try {
      await fsyncDirectory(this.directory);
    } catch (error) {
      await handle.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      throw error;
    }
    const previous = this.writeHandle;
    this.activeSegment().endOffset = base;
    this.segments.push({ base, bytes: 0, endOffset: undefined, deleted: false });
    this.writeHandle = handle;
    // Everything in the previous segment was fsync'ed already; a failing close loses nothing.
    await previous.close().catch(() => undefined);
  }
}
