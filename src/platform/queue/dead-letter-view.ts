import type { DeadLetter } from "./stream.js";

const decoder = new TextDecoder("utf-8", { fatal: true });
// Control characters other than tab, newline and carriage return mark a payload as binary.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const BINARY = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const HEX_BYTES = 24;

/**
 * A short, one-line rendering of a message payload for people (`floodgate dlq list`, the admin
 * API): the text when it is UTF-8, with line breaks shown as spaces, cut to `maxChars`; otherwise
 * the first bytes in hex.
 */
export function previewPayload(data: Uint8Array, maxChars = 80): string {
  let text: string | undefined;
  try {
    text = decoder.decode(data);
  } catch {
    text = undefined;
  }
  if (text !== undefined && !BINARY.test(text)) {
    const line = text.replace(/\s+/g, " ").trim();
    return line.length > maxChars ? `${line.slice(0, maxChars - 1)}…` : line;
  }
  const hex = Buffer.from(data.subarray(0, HEX_BYTES)).toString("hex");
  return `0x${hex}${data.byteLength > HEX_BYTES ? "…" : ""} (${data.byteLength} bytes)`;
}

/** A dead letter as the admin API and `floodgate dlq list --json` show it. */
export interface DeadLetterView {
  readonly id: string;
  readonly originalTopic: string;
  readonly group: string | null;
  readonly attempts: number | null;
  /** ISO-8601; null where the adapter does not record it (the embedded log). */
  readonly deadLetteredAt: string | null;
  readonly bytes: number;
  /** The payload, base64. */
  readonly data: string;
  /** A short one-line rendering of the payload for people. */
  readonly preview: string;
}

export function deadLetterView(deadLetter: DeadLetter): DeadLetterView {
  return {
    id: deadLetter.id,
    originalTopic: deadLetter.originalTopic,
    group: deadLetter.group ?? null,
    attempts: deadLetter.attempts ?? null,
    deadLetteredAt:
      deadLetter.deadLetteredAt === undefined ? null : new Date(deadLetter.deadLetteredAt).toISOString(),
    bytes: deadLetter.data.byteLength,
    data: Buffer.from(deadLetter.data).toString("base64"),
    preview: previewPayload(deadLetter.data),
  };
}
