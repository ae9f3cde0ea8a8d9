/**
 * Typed readers for raw Redis replies (commands are sent with `call`/`callBuffer`, whose replies
 * are `unknown`). Each reader checks the shape it expects, so a surprise from the server fails
 * loudly with the name of what was being read instead of surfacing as a wrong value later.
 */

/** The server answered something this adapter does not understand: a bug or an incompatible server. */
export class UnexpectedReplyError extends Error {
  override readonly name = "UnexpectedReplyError";
}

export function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) {
    throw new UnexpectedReplyError(
      `Unexpected Redis reply for ${what}: expected an array, got ${describe(value)}`,
    );
  }
  return value;
}

export function asText(value: unknown, what: string): string {
  if (typeof value === "string") {
    return value;
  }
  if (Buffer.isBuffer(value)) {
    return value.toString("utf8");
  }
  throw new UnexpectedReplyError(
    `Unexpected Redis reply for ${what}: expected a string, got ${describe(value)}`,
  );
}

export function asBytes(value: unknown, what: string): Buffer {
  if (Buffer.isBuffer(value)) {
    return value;
  }
  if (typeof value === "string") {
    return Buffer.from(value, "utf8");
  }
  throw new UnexpectedReplyError(
    `Unexpected Redis reply for ${what}: expected a string, got ${describe(value)}`,
  );
}

export function asInteger(value: unknown, what: string): number {
  const number = typeof value === "number" ? value : Number(asText(value, what));
  if (!Number.isSafeInteger(number)) {
    throw new UnexpectedReplyError(
      `Unexpected Redis reply for ${what}: expected an integer, got ${describe(value)}`,
    );
  }
  return number;
}

/** A flat `[name, value, name, value, …]` reply (XINFO, CONFIG GET) as a map from name to value. */
export function asFieldMap(value: unknown, what: string): Map<string, unknown> {
  const items = asArray(value, what);
  const fields = new Map<string, unknown>();
  for (let index = 0; index + 1 < items.length; index += 2) {
    fields.set(asText(items[index], what), items[index + 1]);
  }
  return fields;
}

export interface StreamEntry {
  readonly id: string;
  readonly payload: Buffer;
  /** The `h` field (the appender's headers, JSON), when there is one. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The entries of an XREADGROUP reply for one stream (`[[key, [[id, [field, value, …]], …]]]`). */
export function readGroupEntries(value: unknown): StreamEntry[] {
  if (value === null || value === undefined) {
    return [];
  }
  const entries: StreamEntry[] = [];
  for (const streamReply of asArray(value, "XREADGROUP")) {
    const [, items] = asArray(streamReply, "XREADGROUP stream");
    for (const item of asArray(items, "XREADGROUP entries")) {
      const [id, fields] = asArray(item, "XREADGROUP entry");
      const headers = headersField(fields);
      entries.push({
        id: asText(id, "entry id"),
        payload: payloadField(fields),
        ...(headers ? { headers } : {}),
      });
    }
  }
  return entries;
}

/** The `d` field, which holds the message; empty when absent (a foreign entry in the stream). */
function payloadField(fields: unknown): Buffer {
  if (fields === null) {
    return Buffer.alloc(0);
  }
  const items = asArray(fields, "entry fields");
  for (let index = 0; index + 1 < items.length; index += 2) {
    if (asText(items[index], "entry field name") === "d") {
      return asBytes(items[index + 1], "entry payload");
    }
  }
  return Buffer.alloc(0);
}

/** The `h` field as a string map; a malformed one is dropped (headers are optional metadata). */
function headersField(fields: unknown): Readonly<Record<string, string>> | undefined {
  if (fields === null) {
    return undefined;
  }
  const items = asArray(fields, "entry fields");
  for (let index = 0; index + 1 < items.length; index += 2) {
    if (asText(items[index], "entry field name") !== "h") {
      continue;
    }
    try {
      const parsed: unknown = JSON.parse(asBytes(items[index + 1], "entry headers").toString("utf8"));
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        return undefined;
      }
      const entries = Object.entries(parsed).filter(([, value]) => typeof value === "string");
      return Object.fromEntries(entries) as Record<string, string>;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function describe(value: unknown): string {
  if (value === null) {
    return "null";
  }
  return Array.isArray(value) ? "an array" : typeof value;
}
