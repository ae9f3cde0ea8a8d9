import type { Redis } from "ioredis";
import { asArray, asFieldMap, asInteger, asText } from "./replies.js";

export interface GroupInfo {
  readonly name: string;
  /** Delivered and not yet acked: in flight, nak'ed and waiting, or waiting to be claimed. */
  readonly pending: number;
  /** Appended and not yet delivered to the group. */
  readonly undelivered: number;
}

/** XINFO GROUPS needs Redis 7.0 for `lag`; an empty list when the stream does not exist. */
export async function readGroups(redis: Redis, streamKey: string): Promise<GroupInfo[]> {
  let reply: unknown;
  try {
    reply = await redis.call("XINFO", "GROUPS", streamKey);
  } catch (error) {
    if (isNoSuchKey(error)) {
      return [];
    }
    throw error;
  }
  const groups: GroupInfo[] = [];
  for (const item of asArray(reply, "XINFO GROUPS")) {
    const fields = asFieldMap(item, "XINFO GROUPS entry");
    const lag = fields.get("lag");
    groups.push({
      name: asText(fields.get("name"), "group name"),
      pending: asInteger(fields.get("pending"), "group pending"),
      // Redis reports no lag when it cannot tell (entries deleted or trimmed past the group's
      // position): count what lies after the last delivered entry instead.
      undelivered:
        lag === null || lag === undefined
          ? await countAfter(redis, streamKey, asText(fields.get("last-delivered-id"), "last-delivered-id"))
          : asInteger(lag, "group lag"),
    });
  }
  return groups;
}

/** Entries added to the stream since it was created (XINFO STREAM entries-added), 0 if it does not exist. */
export async function readEntriesAdded(redis: Redis, streamKey: string): Promise<number> {
  try {
    const fields = asFieldMap(await redis.call("XINFO", "STREAM", streamKey), "XINFO STREAM");
    return asInteger(fields.get("entries-added"), "entries-added");
  } catch (error) {
    if (isNoSuchKey(error)) {
      return 0;
    }
    throw error;
  }
}

const COUNT_CHUNK = 1_000;

/**
 * Pending entries of `group` delivered more than once (XPENDING's delivery counter), read a chunk
 * at a time. The pending list holds what the group has in hand (a few batches), not the backlog.
 */
export async function countRedelivered(redis: Redis, streamKey: string, group: string): Promise<number> {
  let count = 0;
  let start = "-";
  for (;;) {
    const entries = asArray(
      await redis.call("XPENDING", streamKey, group, start, "+", COUNT_CHUNK),
      "XPENDING",
    );
    for (const entry of entries) {
      if (asInteger(asArray(entry, "XPENDING entry")[3], "delivery count") > 1) count += 1;
    }
    const last = entries.at(-1);
    if (entries.length < COUNT_CHUNK || last === undefined) {
      return count;
    }
    start = `(${asText(asArray(last, "XPENDING entry")[0], "entry id")}`;
  }
}

async function countAfter(redis: Redis, streamKey: string, afterId: string): Promise<number> {
  let count = 0;
  let start = `(${afterId}`;
  for (;;) {
    const entries = asArray(
      await redis.call("XRANGE", streamKey, start, "+", "COUNT", COUNT_CHUNK),
      "XRANGE",
    );
    count += entries.length;
    const last = entries.at(-1);
    if (entries.length < COUNT_CHUNK || last === undefined) {
      return count;
    }
    start = `(${asText(asArray(last, "XRANGE entry")[0], "entry id")}`;
  }
}

function isNoSuchKey(error: unknown): boolean {
  return error instanceof Error && /no such key/i.test(error.message);
}
