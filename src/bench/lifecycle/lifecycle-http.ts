import { Pool, request } from "undici";

const TIMEOUT_MS = 30_000;

export interface JsonAnswer<T> {
  readonly status: number;
  readonly body: T;
}

async function readJson<T>(response: { statusCode: number; body: { text(): Promise<string> } }) {
  const text = await response.body.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the caller's error message shows the text
  }
  return { status: response.statusCode, body: body as T };
}

/**
 * The lifecycle bench's client for one server: JSON in and out, any bearer (buyers and the admin),
 * over a few keep-alive connections of its own. Bookkeeping and the measured burst alike go
 * through it; nothing here retries.
 */
export class JsonClient {
  private readonly pool: Pool;

  constructor(
    readonly url: string,
    connections = 16,
  ) {
    this.pool = new Pool(url, { connections, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
  }

  async call<T>(
    method: "GET" | "POST",
    path: string,
    options: { bearer?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<JsonAnswer<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const response = await this.pool.request({
      method,
      path,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    return readJson<T>(response);
  }

  /** As call, but any status other than `expected` throws, naming the call and the answer. */
  async expect<T>(
    expected: number | readonly number[],
    method: "GET" | "POST",
    path: string,
    options: { bearer?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const answer = await this.call<T>(method, path, options);
    const wanted = typeof expected === "number" ? [expected] : expected;
    if (!wanted.includes(answer.status)) {
      throw new Error(
        `${method} ${this.url}${path} answered ${answer.status}: ${JSON.stringify(answer.body).slice(0, 300)}`,
      );
    }
    return answer.body;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** One request to an absolute URL (the simulator's checkout links), outside any pool. */
export async function postAbsolute<T>(url: string, body: unknown = {}): Promise<JsonAnswer<T>> {
  const response = await request(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    headersTimeout: TIMEOUT_MS,
    bodyTimeout: TIMEOUT_MS,
  });
  return readJson<T>(response);
}

/** Pages through a cursor-paginated admin listing (`nextCursor` null on the last page). */
export async function allPages<T>(
  client: JsonClient,
  path: string,
  field: string,
  bearer: string,
  maxPages = 10_000,
): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const separator = path.includes("?") ? "&" : "?";
    const body: Record<string, unknown> = await client.expect<Record<string, unknown>>(
      200,
      "GET",
      `${path}${separator}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      { bearer },
    );
    items.push(...((body[field] as T[]) ?? []));
    cursor = (body.nextCursor as string | null) ?? null;
    if (!cursor) return items;
  }
  throw new Error(`${path}: more than ${maxPages} pages`);
}

/** Nearest-rank percentile of `values` (ms); null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
