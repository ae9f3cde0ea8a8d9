import type { IncomingHttpHeaders } from "node:http";
import { isBrokenCircuitError } from "cockatiel";
import { AppError } from "../platform/errors/catalogue.js";
import { NOT_READY_HEADER } from "../platform/http/server.js";
import { withClientSpan } from "../platform/observability/tracing-http.js";
import type { UpstreamGroup } from "./upstream-group.js";
import {
  FailedAnswer,
  NotSentError,
  type UpstreamAnswer,
  type UpstreamInstance,
} from "./upstream-instance.js";

/** Headers about one connection, not the request: never passed on (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);

/** Connection failures where the request never reached the instance. */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_CONNECT_TIMEOUT",
]);

const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

export interface ProxyRequest {
  readonly method: string;
  /** Path and query string, as the client sent them. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer | undefined;
  readonly clientIp: string;
  readonly protocol: string;
}

export interface ProxyOptions {
  readonly timeoutMs: number;
  /** Further attempts for GET and HEAD, each on another instance. */
  readonly getRetries: number;
  readonly onAttempt?: (service: string, instance: string, outcome: string) => void;
}

/**
 * Sends a request to one instance of the group and returns its answer. Retries on another
 * instance: any request the instance provably did not take (connection refused, breaker open,
 * "not ready"), and GET/HEAD also after a failure or a 502/503/504, up to `getRetries` times.
 * Anything else (a POST that may have been applied) is answered as it came, or 502/504.
 */
export async function forward(
  group: UpstreamGroup,
  request: ProxyRequest,
  options: ProxyOptions,
): Promise<UpstreamAnswer> {
  const idempotent = request.method === "GET" || request.method === "HEAD";
  const tried = new Set<UpstreamInstance>();
  let retriesLeft = idempotent ? options.getRetries : 0;
  let lastFailure: AppError | UpstreamAnswer | undefined;
  for (;;) {
    const instance = group.pick(tried);
    if (!instance) {
      if (lastFailure && !(lastFailure instanceof AppError)) return lastFailure;
      throw lastFailure ?? new AppError("unavailable", `No instance of ${group.service} is ready.`, 1);
    }
    tried.add(instance);
    try {
      const answer = await instance.breaker.execute(() => send(instance, request, options.timeoutMs));
      options.onAttempt?.(group.service, instance.origin, String(answer.statusCode));
      return answer;
    } catch (error) {
      const outcome = classify(error, group.service, options.timeoutMs);
      options.onAttempt?.(group.service, instance.origin, outcome.label);
      if (outcome.notSent) {
        if (outcome.drained) instance.healthy = false;
        lastFailure = outcome.failure;
        continue;
      }
      lastFailure = outcome.failure;
      if (retriesLeft > 0) {
        retriesLeft--;
        continue;
      }
      if (lastFailure instanceof AppError) throw lastFailure;
      return lastFailure;
    }
  }
}

async function send(
  instance: UpstreamInstance,
  request: ProxyRequest,
  timeoutMs: number,
): Promise<UpstreamAnswer> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  }
  const forwardedFor = request.headers["x-forwarded-for"];
  headers["x-forwarded-for"] = forwardedFor ? `${forwardedFor}, ${request.clientIp}` : request.clientIp;
  headers["x-forwarded-proto"] = request.protocol;
  instance.inFlight++;
  try {
    return await withClientSpan(
      `${request.method} upstream`,
      { "server.address": instance.origin, "http.request.method": request.method },
      async (traceHeaders) => {
        let response: Awaited<ReturnType<typeof instance.pool.request>>;
        try {
          response = await instance.pool.request({
            method: request.method as "GET",
            path: request.url,
            headers: { ...headers, ...traceHeaders },
            body: request.body,
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          });
        } catch (error) {
          const code = (error as { code?: string }).code;
          if (code && NOT_SENT_CODES.has(code)) throw new NotSentError((error as Error).message);
          throw error;
        }
        const answer: UpstreamAnswer = {
          statusCode: response.statusCode,
          headers: response.headers,
          body: Buffer.from(await response.body.arrayBuffer()),
        };
        if (answer.statusCode === 503 && answer.headers[NOT_READY_HEADER]) {
          throw new NotSentError("the instance is not ready", answer);
        }
        if (answer.statusCode >= 500) throw new FailedAnswer(answer);
        return answer;
      },
    );
  } finally {
    instance.inFlight--;
  }
}

interface Outcome {
  readonly label: string;
  readonly notSent: boolean;
  readonly drained?: boolean;
  readonly failure: AppError | UpstreamAnswer;
}

function classify(error: unknown, service: string, timeoutMs: number): Outcome {
  if (isBrokenCircuitError(error)) {
    return {
      label: "breaker_open",
      notSent: true,
      failure: new AppError("unavailable", `Every instance of ${service} is failing; retry shortly.`, 1),
    };
  }
  if (error instanceof NotSentError) {
    return {
      label: error.answer ? "not_ready" : "refused",
      notSent: true,
      drained: error.answer !== undefined,
      failure: error.answer ?? new AppError("unavailable", `No instance of ${service} took the request.`, 1),
    };
  }
  if (error instanceof FailedAnswer) {
    return { label: String(error.answer.statusCode), notSent: false, failure: error.answer };
  }
  const code = (error as { code?: string }).code;
  if (code && TIMEOUT_CODES.has(code)) {
    return {
      label: "timeout",
      notSent: false,
      failure: new AppError("dependency_timeout", `${service} did not answer within ${timeoutMs} ms.`),
    };
  }
  return {
    label: "error",
    notSent: false,
    failure: new AppError("dependency_failed", `${service} failed: ${(error as Error).message}`),
  };
}

/** The answer's headers minus those about its connection, for the client. */
export function clientHeaders(answer: UpstreamAnswer): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(answer.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && name !== NOT_READY_HEADER) headers[name] = value;
  }
  return headers;
}
