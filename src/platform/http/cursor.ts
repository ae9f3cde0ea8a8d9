import { AppError } from "../errors/catalogue.js";
import { parseSnowflake } from "../ids/snowflake.js";

/**
 * Keyset pagination cursors: the opaque base64url of the last id on the previous page. Opaque so
 * clients do not build them, and so the encoding can change without breaking them.
 */
export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, "utf8").toString("base64url");
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === "") return undefined;
  const id = Buffer.from(cursor, "base64url").toString("utf8");
  if (!parseSnowflake(id)) throw new AppError("invalid_cursor");
  return id;
}

export const PAGE_QUERY_SCHEMA = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: { type: "integer", minimum: 1, maximum: 100, default: 20 },
    cursor: { type: "string", maxLength: 64 },
  },
} as const;
