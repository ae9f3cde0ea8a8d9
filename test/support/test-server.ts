import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { loadConfig } from "../../src/platform/config/load-config.js";
import type { SettingKey } from "../../src/platform/config/settings.js";
import { createLogger } from "../../src/platform/observability/logger.js";
import { type RunningProcess, runServices } from "../../src/runtime/run-services.js";

export interface TestServer {
  readonly running: RunningProcess;
  readonly url: string;
  readonly dataDir: string;
  /** Bearer header value for a user (or admin). */
  bearer(userId: string, admin?: boolean): string;
  /** JSON request over real HTTP. */
  request<T = unknown>(
    method: string,
    path: string,
    options?: {
      body?: unknown;
      rawBody?: string;
      headers?: Record<string, string>;
      user?: string;
      admin?: boolean;
    },
  ): Promise<{ status: number; body: T; headers: Record<string, string | string[] | undefined> }>;
  close(): Promise<void>;
}

/** Starts every service in this process on a free port with a fresh data dir (embedded mode). */
export async function startTestServer(
  overrides: Partial<Record<SettingKey, string>> = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "floodgate-test-"));
  const config = loadConfig({
    env: {},
    overrides: {
      port: "0",
      dataDir,
      seedDemo: "false",
      logLevel: "silent",
      env: "development",
      ...overrides,
    },
  });
  const running = await runServices(config, createLogger(config.logLevel));
  const pool = new Pool(running.url, { connections: 256 });
  const tokens = running.platform.tokens;
  const server: TestServer = {
    running,
    url: running.url,
    dataDir,
    bearer: (userId, admin = false) => `Bearer ${tokens.issue({ userId, admin })}`,
    async request(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      if (options.user) headers.authorization = server.bearer(options.user, options.admin);
      let body: string | undefined = options.rawBody;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers["content-type"] ??= "application/json";
      }
      const response = await pool.request({ method: method as "GET", path, headers, body });
      const text = await response.body.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON (e.g. /metrics); keep the text
      }
      return { status: response.statusCode, body: parsed as never, headers: response.headers };
    },
    async close() {
      await pool.close();
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Creates a product and an open sale through the admin API. */
export async function openSale(
  server: TestServer,
  terms: { sku: string; stock: number; perUserLimit: number; startsAt?: string; endsAt?: string },
): Promise<void> {
  const product = await server.request("POST", "/admin/products", {
    user: "admin",
    admin: true,
    body: { sku: terms.sku, name: `Product ${terms.sku}`, priceCents: 1999, currency: "EUR" },
  });
  if (product.status !== 201) throw new Error(`creating product failed: ${JSON.stringify(product.body)}`);
  const sale = await server.request("POST", "/admin/sales", {
    user: "admin",
    admin: true,
    body: {
      sku: terms.sku,
      stock: terms.stock,
      perUserLimit: terms.perUserLimit,
      startsAt: terms.startsAt ?? new Date(Date.now() - 60_000).toISOString(),
      endsAt: terms.endsAt ?? new Date(Date.now() + 3_600_000).toISOString(),
    },
  });
  if (sale.status !== 201) throw new Error(`opening sale failed: ${JSON.stringify(sale.body)}`);
}

/** Polls until `check` returns true or the deadline passes. */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
