import type { FileHandle } from "node:fs/promises";
import { FrameReader } from "./frame-reader.js";
import type { Segment, SegmentLog } from "./segment-log.js";

export interface LogRecord {
  readonly offset: number;
  readonly payload: Uint8Array;
}

/** Reports offsets the cursor had to jump over (deleted or damaged data), `from` inclusive. */
export type SkipListener = (from: number, to: number) => void;

/**
 * Sequential reader over a topic's segments for one consumer group, starting at any offset.
 * Offsets are implicit in the file layout, so starting mid-segment means scanning frames from
 * the segment start once; after that every read continues from the remembered file position.
 */
export class LogCursor {
  /** Offset of the next record `read` returns. */
  private wanted: number;
  private segment: Segment | undefined;
  private handle: FileHandle | undefined;
  private reader: FrameReader | undefined;
  /** Offset of the frame at the reader's current file position. */
  private readerOffset = 0;

  constructor(
    private readonly log: SegmentLog,
    startOffset: number,
    private readonly chunkBytes: number,
    private readonly onSkip: SkipListener,
  ) {
    this.wanted = startOffset;
  }

  /** True when durable records exist that `read` has not returned yet. */
  hasMore(): boolean {
    return this.wanted < this.log.endOffset;
  }

  /** Up to `max` records in offset order; payloads are copies the caller may keep. */
  async read(max: number): Promise<LogRecord[]> {
    const records: LogRecord[] = [];
    while (records.length < max && this.wanted < this.log.endOffset) {
      if (!this.positionedFor(this.wanted)) {
        await this.openSegmentFor(this.wanted);
        continue;
      }
      const segment = this.segment!;
      const reader = this.reader!;
      const frame = reader.readBuffered(segment.bytes) ?? (await reader.read(segment.bytes));
      if (frame.kind === "frame") {
        if (this.readerOffset === this.wanted) {
          // A copy: the chunk is 256 KiB and a consumer holding one message must not pin it.
          records.push({ offset: this.wanted, payload: Uint8Array.prototype.slice.call(frame.payload) });
          this.wanted += 1;
        }
        this.readerOffset += 1;
      } else {
        this.skipDamage(segment, frame.kind === "damaged" ? frame.reason : "segment ends early");
      }
    }
    return records;
  }

  private positionedFor(offset: number): boolean {
    const segment = this.segment;
    return (
      segment !== undefined &&
      !segment.deleted &&
      this.readerOffset <= offset &&
      (segment.endOffset === undefined || offset < segment.endOffset)
    );
  }

  private async openSegmentFor(offset: number): Promise<void> {
    const segment = this.log.segmentContaining(offset);
    if (offset < segment.base) {
      // Retention removed these records; every group had committed past them.
      this.onSkip(offset, segment.base);
      this.wanted = segment.base;
    }
    const handle = await this.log.readHandle(segment);
    this.segment = segment;
    this.handle = handle;
    this.reader = new FrameReader(handle, 0, this.chunkBytes);
    this.readerOffset = segment.base;
  }

  /**
   * A sealed segment with a bad frame, or fewer frames than its neighbour's base implies, means
   * the disk corrupted data that was once durable. The remaining records of the segment cannot be
   * located, so the cursor resumes at the next known frame boundary and reports the gap (the
   * consumer group counts it as consumed) instead of stalling the group forever.
   */
  private skipDamage(segment: Segment, reason: string): void {
    const resumeOffset = segment.endOffset ?? this.log.endOffset;
    this.log.warn(
      `segment ${segment.base} is damaged (${reason}); offsets ${this.wanted} to ${resumeOffset - 1} ` +
        "cannot be read and are skipped",
    );
    this.onSkip(this.wanted, resumeOffset);
    this.wanted = resumeOffset;
    if (segment.endOffset === undefined) {
      // Active segment: its durable byte size and the log's end offset describe the same
      // boundary (both change together after each flush), so reading resumes there.
      this.reader = new FrameReader(this.handle!, segment.bytes, this.chunkBytes);
      this.readerOffset = resumeOffset;
    } else {
      this.segment = undefined;
      this.reader = undefined;
    }
  }
}
