import type { FileHandle } from "node:fs/promises";
import { checkFrame, RECORD_HEADER_BYTES } from "./record-codec.js";

export type FrameRead =
  /** `payload` is a view into the reader's chunk: copy it before keeping it. */
  | { readonly kind: "frame"; readonly payload: Buffer }
  /** The reader is exactly at `limit`: every byte before it was a whole frame. */
  | { readonly kind: "end" }
  /** The bytes before `limit` end inside a frame (a torn write) or hold a frame that fails its checks. */
  | { readonly kind: "damaged"; readonly reason: string };

const NO_BYTES = Buffer.alloc(0);

/**
 * Reads consecutive frames of one segment file in large chunks, so a consumer or a recovery scan
 * costs one `pread` per chunk instead of one per record. `limit` is passed on every call because
 * the active segment grows while it is being read: the reader never looks past the bytes that
 * are known to be durable.
 */
export class FrameReader {
  private chunk: Buffer = NO_BYTES;
  /** File position of `chunk[0]`. */
  private chunkStart = 0;
  /** Size of the frame that did not fit in the last chunk, so the next read fetches all of it. */
  private pendingFrameLength = 0;
  private readonly chunkBytes: number;

  constructor(
    private readonly handle: FileHandle,
    /** File position of the next frame. */
    public position: number,
    chunkBytes: number,
  ) {
    // A chunk must at least hold a header, or a read could never learn how long a frame is.
    this.chunkBytes = Math.max(chunkBytes, RECORD_HEADER_BYTES);
  }

  /** The next frame if the buffered chunk already holds it; `undefined` when a read is needed. */
  readBuffered(limit: number): FrameRead | undefined {
    if (this.position >= limit) {
      return { kind: "end" };
    }
    const chunkEnd = this.chunkStart + this.chunk.length;
    if (this.position < this.chunkStart || this.position > chunkEnd) {
      return undefined;
    }
    const visibleEnd = Math.min(chunkEnd, limit) - this.chunkStart;
    const check = checkFrame(this.chunk, this.position - this.chunkStart, visibleEnd);
    switch (check.status) {
      case "complete": {
        const payload = this.chunk.subarray(check.payloadStart, check.payloadStart + check.payloadLength);
        this.position = this.chunkStart + check.payloadStart + check.payloadLength;
        return { kind: "frame", payload };
      }
      case "corrupt":
        return { kind: "damaged", reason: `${check.reason} at byte ${this.position}` };
      case "incomplete":
        if (chunkEnd >= limit) {
          return { kind: "damaged", reason: `${check.reason} at byte ${this.position}` };
        }
        this.pendingFrameLength = check.frameLength ?? 0;
        return undefined;
    }
  }

  /** The next frame, reading the file when the buffered chunk does not hold all of it. */
  async read(limit: number): Promise<FrameRead> {
    for (;;) {
      const buffered = this.readBuffered(limit);
      if (buffered !== undefined) {
        return buffered;
      }
      // At most twice per frame: a first read may only reveal (in the header) how long it is.
      if (!(await this.fill(limit))) {
        return (
          this.readBuffered(limit) ?? {
            kind: "damaged",
            reason: `file ends before byte ${limit} (short read)`,
          }
        );
      }
    }
  }

  /** Reads the next chunk at `position`; false when the file ended before the requested bytes. */
  private async fill(limit: number): Promise<boolean> {
    const wanted = Math.min(Math.max(this.chunkBytes, this.pendingFrameLength), limit - this.position);
    const chunk = Buffer.allocUnsafe(wanted);
    let filled = 0;
    while (filled < wanted) {
      const { bytesRead } = await this.handle.read(chunk, filled, wanted - filled, this.position + filled);
      if (bytesRead === 0) {
        break;
      }
      filled += bytesRead;
    }
    this.chunk = chunk.subarray(0, filled);
    this.chunkStart = this.position;
    this.pendingFrameLength = 0;
    return filled === wanted;
  }
}
