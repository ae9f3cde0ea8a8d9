import type { FastifyInstance } from "fastify";
import { AppError } from "../platform/errors/catalogue.js";
import { type ConnectionLimits, createHttpServer } from "../platform/http/server.js";
import type { Logger } from "../platform/observability/logger.js";
import type { Metrics } from "../platform/observability/metrics.js";
import { serverSpanOf } from "../platform/observability/tracing-http.js";
import type { EdgePolicy } from "./edge-policy.js";
import { clientHeaders, forward } from "./proxy.js";
import { matchPublicRoute } from "./public-routes.js";
import type { UpstreamGroup } from "./upstream-group.js";

// HEAD comes with GET (Fastify answers it from the GET route).
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

export interface GatewayAppOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly policy: EdgePolicy;
  readonly groups: ReadonlyMap<string, UpstreamGroup>;
  readonly bodyLimitBytes: number;
  readonly connections?: ConnectionLimits;
  readonly upstreamTimeoutMs: number;
  readonly getRetries: number;
  readonly isReady: () => boolean;
  readonly isAccepting: () => boolean;
}

/**
 * The gateway's HTTP side: health, readiness and metrics of its own, and every other request
 * matched against the public routes, admitted by the edge policy and forwarded to an instance of
 * the route's service. Bodies pass through untouched (up to the body limit, else 413).
 */
export function createGatewayApp(options: GatewayAppOptions): FastifyInstance {
  const app = createHttpServer({
    logger: options.logger,
    metrics: options.metrics,
    bodyLimitBytes: options.bodyLimitBytes,
    ...(options.connections ? { connections: options.connections } : {}),
    isReady: options.isReady,
    isAccepting: options.isAccepting,
  });
  // Bodies are the services' business: whatever the type, they are passed on as bytes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));

  const attempts = options.metrics.counter(
    "gateway_upstream_attempts_total",
    "Requests the gateway sent to service instances, by outcome (status code, refused, not_ready, breaker_open, timeout, error).",
    ["service", "outcome"],
  );
  options.metrics.gauge(
    "gateway_upstream_instances",
    "Service instances the gateway knows, by whether they take requests (ready and breaker closed).",
    ["service", "available"],
    (gauge) => {
      gauge.reset();
      for (const group of options.groups.values()) {
        const all = group.all();
        const available = all.filter((instance) => instance.available).length;
        gauge.set({ service: group.service, available: "true" }, available);
        gauge.set({ service: group.service, available: "false" }, all.length - available);
      }
    },
  );

  app.route({
    method: [...METHODS],
    url: "/*",
    handler: async (request, reply) => {
      const query = request.url.indexOf("?");
      const path = query === -1 ? request.url : request.url.slice(0, query);
      const match = matchPublicRoute(request.method, path);
      const group = match.kind === "route" ? options.groups.get(match.route.service) : undefined;
      if (match.kind !== "route" || !group) {
        throw new AppError("route_not_found", `No route ${request.method} ${path}.`);
      }
      serverSpanOf(request)?.updateName(`${request.method} ${match.route.name}`);
      await options.policy.admit(match.route, request.headers.authorization, request.ip);
      const answer = await forward(
        group,
        {
          method: request.method,
          url: request.url,
          headers: request.headers,
          body: request.body as Buffer | undefined,
          clientIp: request.ip,
          protocol: request.protocol,
        },
        {
          timeoutMs: options.upstreamTimeoutMs,
          getRetries: options.getRetries,
          onAttempt: (service, _instance, outcome) => attempts.inc({ service, outcome }),
        },
      );
      return reply.code(answer.statusCode).headers(clientHeaders(answer)).send(answer.body);
    },
  });
  return app;
}
