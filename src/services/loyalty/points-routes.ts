import type { FastifyInstance } from "fastify";
import type { TokenService } from "../../platform/auth/tokens.js";
import type { Database } from "../../platform/db/database.js";
import { decodeCursor, encodeCursor, PAGE_QUERY_SCHEMA } from "../../platform/http/cursor.js";
import { userOf } from "../../platform/http/principal.js";
import { PointsLedger } from "./points-ledger.js";

/**
 * `GET /me/points`: the caller's balance (every entry summed) and their entries, newest first,
 * a page at a time (`limit`, `cursor`; `nextCursor` is null on the last page).
 */
export function registerPointsRoutes(
  app: FastifyInstance,
  deps: { db: Database; tokens: TokenService },
): void {
  const { db, tokens } = deps;
  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    "/me/points",
    { schema: { querystring: PAGE_QUERY_SCHEMA } },
    async (request) => {
      const { userId } = userOf(request, tokens);
      const { limit, cursor } = request.query;
      const [balance, entries] = await Promise.all([
        PointsLedger.balanceOf(db, userId),
        PointsLedger.entriesOf(db, userId, limit, decodeCursor(cursor)),
      ]);
      const last = entries.at(-1);
      return {
        balance,
        entries,
        nextCursor: entries.length === limit && last ? encodeCursor(last.id) : null,
      };
    },
  );
}
