import type { FastifyInstance, FastifyRequest } from "fastify";
import type { TokenService } from "../auth/tokens.js";
import { AppError } from "../errors/catalogue.js";
import { deadLetterView } from "../queue/dead-letter-view.js";
import { InvalidDeadLetterIdError, type Stream } from "../queue/stream.js";
import { adminOf } from "./principal.js";

/** The topic these routes look at when the request names none: the order queue. */
export const DEFAULT_ADMIN_TOPIC = "orders.requested";

/**
 * A name every queue adapter accepts, with room for the `.dead` suffix: the adapters' own rules
 * differ at the edges (JetStream subject tokens, file names), so the API takes what all of them do.
 */
const TOPIC = /^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
const MAX_TOPIC_LENGTH = 190;
const MAX_REPLAY_IDS = 10_000;

const TOPIC_QUERY = { topic: { type: "string", default: DEFAULT_ADMIN_TOPIC } } as const;

/**
 * The queue's operator routes (admin token), for the process's own queue — the way in when the
 * embedded log is locked by this running process and `floodgate queue` / `floodgate dlq` cannot
 * open it:
 * - `GET /admin/queue/stats?topic=`: depth, in flight, redelivered per group; dead letters;
 * - `GET /admin/dlq?topic=&limit=&after=`: dead letters, oldest first, a page at a time;
 * - `POST /admin/dlq/replay` `{"topic"?, "ids": [...]}` or `{"topic"?, "all": true}`: moves them
 *   back to their original topic (see Stream.replayDeadLetters for the guarantees).
 */
export function registerQueueAdminRoutes(
  app: FastifyInstance,
  deps: { stream: Stream; tokens: TokenService },
): void {
  const { stream, tokens } = deps;

  app.get<{ Querystring: { topic: string } }>(
    "/admin/queue/stats",
    {
      schema: {
        querystring: { type: "object", additionalProperties: false, properties: TOPIC_QUERY },
      },
    },
    async (request) => {
      adminOf(request, tokens);
      const topic = checkedTopic(request.query.topic);
      return queueCall(request, () => stream.stats(topic));
    },
  );

  app.get<{ Querystring: { topic: string; limit: number; after?: string } }>(
    "/admin/dlq",
    {
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            ...TOPIC_QUERY,
            limit: { type: "integer", minimum: 1, maximum: 1000, default: 20 },
            after: { type: "string", minLength: 1, maxLength: 64 },
          },
        },
      },
    },
    async (request) => {
      adminOf(request, tokens);
      const { limit, after } = request.query;
      const topic = checkedTopic(request.query.topic);
      const deadLetters = await queueCall(request, () =>
        stream.deadLetters(topic, { limit, ...(after === undefined ? {} : { after }) }),
      );
      return {
        topic,
        deadLetterTopic: `${topic}.dead`,
        deadLetters: deadLetters.map(deadLetterView),
        // The id to pass as `after` for the next page; null when this page was the last.
        next: deadLetters.length === limit ? deadLetters.at(-1)!.id : null,
      };
    },
  );

  app.post<{ Body: { topic?: string; ids?: string[]; all?: boolean } }>(
    "/admin/dlq/replay",
    {
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          properties: {
            topic: { type: "string" },
            ids: {
              type: "array",
              maxItems: MAX_REPLAY_IDS,
              items: { type: "string", minLength: 1, maxLength: 64 },
            },
            all: { type: "boolean" },
          },
        },
      },
    },
    async (request) => {
      adminOf(request, tokens);
      const { ids, all } = request.body;
      const topic = checkedTopic(request.body.topic ?? DEFAULT_ADMIN_TOPIC);
      const byIds = ids !== undefined && ids.length > 0;
      if (byIds === (all === true) || (ids !== undefined && all !== undefined)) {
        throw new AppError("invalid_replay_selection");
      }
      const result = await queueCall(request, () => stream.replayDeadLetters(topic, byIds ? ids : "all"));
      return { topic, ...result };
    },
  );
}

function checkedTopic(topic: string): string {
  if (topic.length > MAX_TOPIC_LENGTH || !TOPIC.test(topic) || /^LOCK(\.|$)/.test(topic)) {
    throw new AppError("invalid_topic", `Invalid topic ${JSON.stringify(topic.slice(0, 60))}.`);
  }
  return topic;
}

/** Runs a queue operation; a malformed id is the client's mistake, anything else the queue's. */
async function queueCall<T>(request: FastifyRequest, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof InvalidDeadLetterIdError) {
      throw new AppError("invalid_dead_letter_id", `${error.message}.`);
    }
    request.log.error({ err: error }, "queue admin request failed");
    throw new AppError("queue_unavailable", undefined, 1);
  }
}
