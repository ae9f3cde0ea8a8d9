import { crc32 } from "node:zlib";

/**
 * On-disk framing of one record:
 *
 *   [u32 BE payload length][u32 BE crc32(length bytes ++ payload)][payload]
 *
 * The checksum covers the length field too, so a zero-filled or garbled header (what a crash can
 * leave behind when the file size was extended but the data never reached the disk) never passes
 * as a valid empty record. Offsets are not stored: a record's offset is its segment's base offset
 * plus its position in the segment, which keeps frames small and appends free of bookkeeping.
 */
export const RECORD_HEADER_BYTES = 8;

/**
 * Largest payload accepted. Any length field above it is treated as corruption instead of a
 * reason to read (and allocate) gigabytes, and it bounds how far a reader has to look ahead.
 */
export const MAX_RECORD_PAYLOAD_BYTES = 16 * 1024 * 1024;

export function frameLength(payloadLength: number): number {
  return RECORD_HEADER_BYTES + payloadLength;
}

/** Encodes `payload` into a fresh buffer (a copy, so the caller may reuse its array at once). */
export function encodeRecord(payload: Uint8Array): Buffer {
  if (payload.byteLength > MAX_RECORD_PAYLOAD_BYTES) {
    throw new RangeError(
      `A record payload is limited to ${MAX_RECORD_PAYLOAD_BYTES} bytes; got ${payload.byteLength}`,
    );
  }
  const frame = Buffer.allocUnsafe(frameLength(payload.byteLength));
  frame.writeUInt32BE(payload.byteLength, 0);
  frame.set(payload, RECORD_HEADER_BYTES);
  frame.writeUInt32BE(frameChecksum(frame, 0, payload.byteLength), 4);
  return frame;
}

function frameChecksum(buffer: Buffer, frameStart: number, payloadLength: number): number {
  const lengthField = buffer.subarray(frameStart, frameStart + 4);
  const payloadStart = frameStart + RECORD_HEADER_BYTES;
  return crc32(buffer.subarray(payloadStart, payloadStart + payloadLength), crc32(lengthField));
}

export type FrameCheck =
  | { readonly status: "complete"; readonly payloadStart: number; readonly payloadLength: number }
  /** The bytes end inside this frame; `frameLength` is known once the header is complete. */
  | { readonly status: "incomplete"; readonly reason: string; readonly frameLength: number | undefined }
  | { readonly status: "corrupt"; readonly reason: string };

/**
 * Checks the frame starting at `start`, looking only at bytes before `end`. Pure: callers decide
 * whether "incomplete" means "read more" or "torn tail", depending on whether `end` is the end of
 * the durable data.
 */
export function checkFrame(buffer: Buffer, start: number, end: number): FrameCheck {
  if (end - start < RECORD_HEADER_BYTES) {
    return { status: "incomplete", reason: "short header", frameLength: undefined };
  }
  const payloadLength = buffer.readUInt32BE(start);
  if (payloadLength > MAX_RECORD_PAYLOAD_BYTES) {
    return { status: "corrupt", reason: `length field ${payloadLength} exceeds the record size limit` };
  }
  const length = frameLength(payloadLength);
  if (end - start < length) {
    return {
      status: "incomplete",
      reason: "record length runs past the end of the data",
      frameLength: length,
    };
  }
  if (buffer.readUInt32BE(start + 4) !== frameChecksum(buffer, start, payloadLength)) {
    return { status: "corrupt", reason: "crc mismatch" };
  }
  return { status: "complete", payloadStart: start + RECORD_HEADER_BYTES, payloadLength };
}
