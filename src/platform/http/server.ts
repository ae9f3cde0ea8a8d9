import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { Ajv, type ValidateFunction } from "ajv";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import { AppError, ERROR_CATALOGUE, type ErrorCode } from "../errors/catalogue.js";
import type { Logger } from "../observability/logger.js";
import type { Metrics } from "../observability/metrics.js";
import { registerServerSpans } from "../observability/tracing-http.js";

/**
 * Set on the 503 a process answers while it is starting or draining, before any handler ran: the
 * request did nothing, so a gateway may send it (whatever its method) to another instance.
 */
export const NOT_READY_HEADER = "floodgate-not-ready";

/** Answered even while starting or closing: probes and scrapers must see the truth then too. */
const PROBE_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

export interface HttpServerOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly bodyLimitBytes: number;
  /** Answers /readyz: false while starting or draining. */
  readonly isReady: () => boolean;
  /**
   * Whether requests other than probes are served; default isReady. A draining process stops
   * being ready first (so balancers stop sending) and keeps serving until it stops accepting.
   */
  readonly isAccepting?: () => boolean;
  /** Limits against slow and too many clients; the settings' defaults when absent. */
  readonly connections?: ConnectionLimits;
}

/** FLOODGATE_HTTP_HEADERS_TIMEOUT_MS, _REQUEST_TIMEOUT_MS, _KEEP_ALIVE_TIMEOUT_MS, _MAX_CONNECTIONS. */
export interface ConnectionLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  /** 0: no limit. */
  readonly maxConnections: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 72_000,
  maxConnections: 10_000,
};

/** The connection limits the configuration sets. */
export function connectionLimitsOf(config: {
  readonly httpHeadersTimeoutMs: number;
  readonly httpRequestTimeoutMs: number;
  readonly httpKeepAliveTimeoutMs: number;
  readonly httpMaxConnections: number;
}): ConnectionLimits {
  return {
    headersTimeoutMs: config.httpHeadersTimeoutMs,
    requestTimeoutMs: config.httpRequestTimeoutMs,
    keepAliveTimeoutMs: config.httpKeepAliveTimeoutMs,
    maxConnections: config.httpMaxConnections,
  };
}

/**
 * The Fastify app every Floodgate process serves: JSON schema validation, the error catalogue
 * as `{"error":{"code","message"}}`, health, readiness and metrics endpoints.
 */
export function createHttpServer(serverOptions: HttpServerOptions): FastifyInstance {
  const options = { isAccepting: serverOptions.isReady, ...serverOptions };
  const limits = options.connections ?? DEFAULT_CONNECTION_LIMITS;
  const app = Fastify({
    // Slow clients: Node checks the header and request deadlines every connectionsCheckingInterval,
    // so it is kept well below them; a late client gets 408 request_timeout (clientErrorHandler).
    http: {
      // Node refuses a header deadline later than the whole request's.
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, limits.headersTimeoutMs / 4)),
    },
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    loggerInstance: options.logger as FastifyBaseLogger,
    // Per-request log lines would cost more than the request itself under a flash sale;
    // errors are still logged, and request counts and latencies go to /metrics.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    // Our own hook below answers while closing, in the error format (Fastify's would not be).
    return503OnClosing: false,
    forceCloseConnections: "idle",
    requestIdHeader: "x-request-id",
    // What the router refuses before any route or hook runs (a malformed percent-encoding, a path
    // parameter over the router's 100 characters) is answered in the error format too.
    frameworkErrors: (error, _request, reply) => {
      const { code, message, status } = frameworkError(error);
      // Fastify types this reply by the route's schema; there is no route yet.
      const raw = reply as unknown as FastifyReply;
      return raw
        .status(status)
        .type("application/json; charset=utf-8")
        .send(JSON.stringify({ error: { code, message } }));
    },
    // And so is what the HTTP parser refuses (oversized headers, bad bytes, a slow client).
    clientErrorHandler: answerClientError,
  });
  // Too many clients: connections past the limit are closed as they arrive, before any work.
  if (limits.maxConnections > 0) app.server.maxConnections = limits.maxConnections;

  // The API speaks JSON only: any other body type gets 415 rather than a confusing shape error.
  app.removeContentTypeParser("text/plain");

  // Bodies are validated strictly ("5" is not a number); query strings and path params are text
  // by nature, so those are coerced.
  const strict = new Ajv({
    coerceTypes: false,
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
  });
  const coercing = new Ajv({
    coerceTypes: true,
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
  });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === "body" ? strict.compile(schema) : finiteOnly(coercing.compile(schema)),
  );

  const requestDuration = options.metrics.histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route and status.",
    ["method", "route", "status"],
  );
  app.addHook("onResponse", async (request, reply) => {
    requestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? "unmatched", status: reply.statusCode },
      reply.elapsedTime / 1000,
    );
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { code, message, status, retryAfterSeconds, details } = toClientError(error, request);
    if (status >= 500) request.log.error({ err: error }, "request failed");
    if (retryAfterSeconds !== undefined) void reply.header("retry-after", String(retryAfterSeconds));
    return reply.status(status).send({ error: { ...details, code, message } });
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send({ error: { code: "route_not_found", message: `No route ${request.method} ${request.url}.` } }),
  );

  app.addHook("onRequest", async (request, reply) => {
    if (options.isAccepting() || PROBE_PATHS.has(request.url)) return;
    void reply.header(NOT_READY_HEADER, "1");
    throw new AppError("unavailable", undefined, 1);
  });
  registerServerSpans(app);

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (_request, reply) =>
    options.isReady() ? { status: "ready" } : reply.status(503).send({ status: "not_ready" }),
  );
  app.get("/metrics", async (_request, reply) =>
    reply.type("text/plain; version=0.0.4").send(await options.metrics.text()),
  );
  return app;
}

/**
 * Ajv coerces "1e400" or "9…9" (309 digits) to Infinity for an integer and then skips minimum and
 * maximum, which it applies to finite numbers only: `?limit=1e400` reached the database as a bigint
 * "Infinity" (a 500). A coerced part (query, params, headers) with a non-finite number is refused.
 */
function finiteOnly(validate: ValidateFunction): ValidateFunction {
  const checked = ((data: unknown) => {
    if (!validate(data)) {
      checked.errors = validate.errors;
      return false;
    }
    const field = Object.entries(data ?? {}).find(([, value]) =>
      [value].flat().some((item) => typeof item === "number" && !Number.isFinite(item)),
    )?.[0];
    checked.errors =
      field === undefined
        ? null
        : [
            {
              instancePath: `/${field}`,
              schemaPath: "#",
              keyword: "type",
              params: {},
              message: "must be a finite number",
            },
          ];
    return field === undefined;
  }) as ValidateFunction;
  return checked;
}

function frameworkError(error: FastifyError): ClientError {
  switch (error.code) {
    case "FST_ERR_BAD_URL":
      return catalogued(
        "invalid_request",
        "The request path is not a valid URL (a malformed percent-encoding).",
      );
    case "FST_ERR_MAX_PARAM_LENGTH":
      return catalogued("invalid_request", "A path segment is longer than any id or SKU can be.");
    default:
      return catalogued("internal_error");
  }
}

/**
 * Answers a request the HTTP parser refused, on the raw socket (there is no request to reply to),
 * then closes the connection: after a parse error the stream's framing cannot be trusted.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset connection has no one to answer.
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  const { code, message, status } =
    error.code === "HPE_HEADER_OVERFLOW"
      ? catalogued("headers_too_large")
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? catalogued("request_timeout")
        : catalogued("invalid_request", "The request is not valid HTTP/1.1.");
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}

interface ClientError {
  code: ErrorCode;
  message: string;
  status: number;
  retryAfterSeconds?: number;
  details?: Readonly<Record<string, string>>;
}

function catalogued(code: ErrorCode, message?: string): ClientError {
  return { code, message: message ?? ERROR_CATALOGUE[code].message, status: ERROR_CATALOGUE[code].status };
}

/** Maps anything thrown while serving a request onto a catalogued client error. */
function toClientError(error: FastifyError, request: FastifyRequest): ClientError {
  if (error instanceof AppError) {
    return {
      code: error.code,
      message: error.message,
      status: error.status,
      ...(error.retryAfterSeconds !== undefined ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
      ...(error.details ? { details: error.details } : {}),
    };
  }
  if (error.validation) {
    const first = error.validation[0];
    const where = error.validationContext ?? "request";
    const path = first?.instancePath ? `${where}${first.instancePath.replaceAll("/", ".")}` : where;
    return catalogued("invalid_request", `${path} ${first?.message ?? "is invalid"}.`);
  }
  switch (error.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return catalogued("invalid_json");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return catalogued("invalid_json", "The request body is empty; a JSON object is required.");
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return catalogued("payload_too_large");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return catalogued("unsupported_media_type");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return catalogued("invalid_request", "Content-Length does not match the body.");
  }
  if (error instanceof SyntaxError) return catalogued("invalid_json");
  if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
    request.log.warn({ err: error }, "uncatalogued client error");
    return catalogued("invalid_request", error.message);
  }
  return catalogued("internal_error");
}
