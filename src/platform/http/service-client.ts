import { Pool } from "undici";
import { AppError, isErrorCode } from "../errors/catalogue.js";
import { withClientSpan } from "../observability/tracing-http.js";

/**
 * Services talk to each other through typed clients with one interface and two transports:
 * in-process (a direct call on the service's operations object) and HTTP (POST
 * /internal/<service>/<operation> with a JSON body). Callers cannot tell which one they hold,
 * which is what lets config choose between one process and many.
 */
// biome-ignore lint/suspicious/noExplicitAny: operation inputs are service-specific JSON shapes.
export type Operations = { [name: string]: (input: any) => Promise<unknown> };

export interface HttpTransportOptions {
  /** The service's origin, or several instances' separated by `|` (taken in turn). */
  readonly baseUrl: string;
  /** The service token sent as the bearer: a short-lived one, renewed by the provider (renewingServiceToken). */
  readonly token: string | (() => string);
  readonly timeoutMs?: number;
  /** Extra attempts when the connection fails before the request was sent. */
  readonly connectRetries?: number;
}

export interface HttpClientHandle {
  close(): Promise<void>;
}

export function internalPath(service: string, operation: string): string {
  return `/internal/${service}/${operation}`;
}

/** A client that forwards each named operation over HTTP; errors come back as the same AppError. */
export function createHttpClient<T extends object>(
  service: string,
  operations: readonly string[],
  options: HttpTransportOptions,
): T & HttpClientHandle {
  const pools = options.baseUrl
    .split("|")
    .map((url) => url.trim())
    .filter((url) => url.length > 0)
    .map((url) => new Pool(url, { connections: 64, pipelining: 1 }));
  let turn = 0;
  const timeoutMs = options.timeoutMs ?? 5000;
  // With several instances, a refused connection moves on to the next one.
  const retries = Math.max(options.connectRetries ?? 2, pools.length - 1);

  const call = async (operation: string, input: unknown): Promise<unknown> => {
    for (let attempt = 0; ; attempt++) {
      turn = (turn + 1) % pools.length;
      const pool = pools[turn]!;
      try {
        const response = await withClientSpan(
          `${service}.${operation}`,
          { "rpc.service": service, "rpc.method": operation },
          (traceHeaders) =>
            pool.request({
              method: "POST",
              path: internalPath(service, operation),
              headers: {
                "content-type": "application/json",
                authorization: `Bearer ${typeof options.token === "string" ? options.token : options.token()}`,
                ...traceHeaders,
              },
              body: JSON.stringify(input ?? null),
              headersTimeout: timeoutMs,
              bodyTimeout: timeoutMs,
            }),
        );
        const payload = (await response.body.json()) as {
          result?: unknown;
          error?: { code?: string; message?: string; [detail: string]: unknown };
        };
        if (response.statusCode === 200) return payload.result;
        const { code, message, ...details } = payload.error ?? {};
        if (code && isErrorCode(code)) {
          // The same error as in-process: Retry-After included (a 503 must keep telling when to
          // retry), and its details (an outcome_unknown names its order).
          const retryAfter = Number(response.headers["retry-after"]);
          const strings = Object.entries(details).filter(([, v]) => typeof v === "string");
          throw new AppError(
            code,
            message,
            Number.isFinite(retryAfter) ? retryAfter : undefined,
            strings.length > 0 ? (Object.fromEntries(strings) as Record<string, string>) : undefined,
          );
        }
        throw new AppError("dependency_failed", `${service}.${operation} answered ${response.statusCode}.`);
      } catch (error) {
        if (error instanceof AppError) throw error;
        const code = (error as { code?: string }).code;
        if (code === "UND_ERR_HEADERS_TIMEOUT" || code === "UND_ERR_BODY_TIMEOUT") {
          throw new AppError(
            "dependency_timeout",
            `${service}.${operation} did not answer within ${timeoutMs} ms.`,
          );
        }
        // Only failures to connect are retried: the request never reached the service, so a
        // retry cannot apply it twice.
        if (code === "ECONNREFUSED" && attempt < retries) {
          await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
          continue;
        }
        throw new AppError(
          "dependency_failed",
          `${service}.${operation} failed: ${(error as Error).message}`,
        );
      }
    }
  };

  const client: Record<string, unknown> = {
    close: async () => void (await Promise.all(pools.map((pool) => pool.close()))),
  };
  for (const operation of operations) client[operation] = (input: unknown) => call(operation, input);
  return client as T & HttpClientHandle;
}
