import type { FastifyInstance } from "fastify";
import type { TelemetrySampler } from "../observability/telemetry.js";

const HEARTBEAT_MS = 15_000;

/**
 * A client whose unsent bytes (beyond what the kernel holds) pass this is dropped: one that does
 * not read would otherwise keep every sample in this process's memory for as long as it stays
 * connected. A reading client stays far below it (a sample is a few KB, one or two a second);
 * a dropped one reconnects on its own and backfills from `/dashboard/series`.
 */
export const EVENT_STREAM_MAX_BUFFERED_BYTES = 256 * 1024;

/**
 * The live figures behind the dashboard and the bench report:
 * - `GET /dashboard/series?since=<epoch ms>`: the samples taken after `since` (JSON);
 * - `GET /dashboard/events`: Server-Sent Events, one `sample` event per sampling interval.
 */
export function registerTelemetryRoutes(
  app: FastifyInstance,
  sampler: Pick<TelemetrySampler, "since" | "subscribe">,
  intervalMs: number,
): void {
  app.get<{ Querystring: { since: number } }>(
    "/dashboard/series",
    {
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: { since: { type: "integer", minimum: 0, default: 0 } },
        },
      },
    },
    async (request) => ({ intervalMs, samples: sampler.since(request.query.since) }),
  );

  // Event streams never finish by themselves, so a graceful close would wait for them until its
  // timeout: end them when the server starts closing.
  const open = new Set<() => void>();
  app.addHook("preClose", async () => {
    for (const end of open) end();
  });

  app.get("/dashboard/events", (request, reply) => {
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    out.write(`retry: 2000\n\n`);
    const send = (text: string) => {
      if (out.writableLength <= EVENT_STREAM_MAX_BUFFERED_BYTES) {
        out.write(text);
        return;
      }
      // Not end(): that would wait to flush what this client never reads. Destroying frees it now.
      end();
      out.destroy();
    };
    const unsubscribe = sampler.subscribe((sample) =>
      send(`event: sample\ndata: ${JSON.stringify(sample)}\n\n`),
    );
    const heartbeat = setInterval(() => send(": heartbeat\n\n"), HEARTBEAT_MS);
    const end = () => {
      if (!open.delete(end)) return;
      clearInterval(heartbeat);
      unsubscribe();
      out.end();
    };
    open.add(end);
    request.raw.once("close", end);
    out.once("close", end);
  });
}
