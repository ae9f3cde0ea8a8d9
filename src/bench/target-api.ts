import { Pool } from "undici";

export interface ApiResponse<T> {
  readonly status: number;
  readonly body: T;
}

const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The bench's own client for the target's public and admin API (seeding, levels, orders,
 * telemetry). Separate from the load generator: these calls are bookkeeping, not load, and run
 * in the bench process over a few connections of their own.
 */
export class TargetApi {
  private readonly pool: Pool;

  constructor(
    readonly url: string,
    private readonly adminBearer: string,
    connections = 16,
  ) {
    this.pool = new Pool(url, {
      connections,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
  }

  async request<T>(
    method: "GET" | "POST",
    path: string,
    options: { body?: unknown; admin?: boolean } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (options.admin) headers.authorization = this.adminBearer;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const response = await this.pool.request({
      method,
      path,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.body.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON; callers see the text in their error message
    }
    return { status: response.statusCode, body: body as T };
  }

  /** As request, but anything other than `expected` is an error naming the call and the answer. */
  async expect<T>(
    expected: number,
    method: "GET" | "POST",
    path: string,
    options: { body?: unknown; admin?: boolean } = {},
  ): Promise<T> {
    const response = await this.request<T>(method, path, options);
    if (response.status !== expected) {
      throw new Error(
        `${method} ${path} answered ${response.status}: ${JSON.stringify(response.body).slice(0, 300)}`,
      );
    }
    return response.body;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}
