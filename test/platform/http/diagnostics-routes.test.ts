import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { matchPublicRoute } from "../../../src/gateway/public-routes.js";
import { TokenService } from "../../../src/platform/auth/tokens.js";
import {
  type MemoryDiagnostics,
  registerDiagnosticsRoutes,
} from "../../../src/platform/http/diagnostics-routes.js";
import { createHttpServer } from "../../../src/platform/http/server.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";
import { startTestServer, type TestServer } from "../../support/test-server.js";

type ErrorBody = { error: { code: string } };

function expectMemoryShape(body: MemoryDiagnostics): void {
  expect(body.pid).toBe(process.pid);
  expect(body.uptimeSeconds).toBeGreaterThan(0);
  for (const field of [
    "rss",
    "heapTotal",
    "heapUsed",
    "external",
    "arrayBuffers",
    "heapSizeLimit",
  ] as const) {
    expect(Number.isInteger(body.memory[field]), field).toBe(true);
  }
  expect(body.memory.heapUsed).toBeGreaterThan(0);
  expect(body.memory.heapUsed).toBeLessThanOrEqual(body.memory.heapTotal);
  expect(body.memory.heapTotal).toBeLessThan(body.memory.heapSizeLimit);
}

describe("GET /admin/diagnostics/memory", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it("needs an admin token", async () => {
    const anonymous = await server.request<ErrorBody>("GET", "/admin/diagnostics/memory");
    expect(anonymous.status).toBe(401);
    const user = await server.request<ErrorBody>("GET", "/admin/diagnostics/memory", { user: "alice" });
    expect(user.status).toBe(403);
    expect(user.body.error.code).toBe("forbidden");
  });

  it("answers the process's memory, and gc: false in a process without --expose-gc", async () => {
    const answer = await server.request<MemoryDiagnostics>("GET", "/admin/diagnostics/memory", {
      user: "ops",
      admin: true,
    });
    expect(answer.status).toBe(200);
    expectMemoryShape(answer.body);
    expect(answer.body.gc).toBe(typeof (globalThis as { gc?: unknown }).gc === "function");
  });

  it("collects first, and says so, when a collector is there (node --expose-gc)", async () => {
    const tokens = new TokenService("diagnostics-test-secret-0123456789abcdef");
    const logger = createLogger("silent");
    const app = createHttpServer({
      logger,
      metrics: new Metrics({}, { processMetrics: false }),
      bodyLimitBytes: 1024,
      isReady: () => true,
    });
    let collections = 0;
    registerDiagnosticsRoutes(app, { tokens, gc: () => collections++ });
    const withoutGc = createHttpServer({
      logger,
      metrics: new Metrics({}, { processMetrics: false }),
      bodyLimitBytes: 1024,
      isReady: () => true,
    });
    registerDiagnosticsRoutes(withoutGc, { tokens, gc: undefined });
    const authorization = `Bearer ${tokens.issue({ userId: "ops", admin: true })}`;
    try {
      const collected = await app.inject({ url: "/admin/diagnostics/memory", headers: { authorization } });
      expect(collected.statusCode).toBe(200);
      expect(collected.json<MemoryDiagnostics>().gc).toBe(true);
      expectMemoryShape(collected.json<MemoryDiagnostics>());
      expect(collections).toBe(1);
      const asIs = await withoutGc.inject({ url: "/admin/diagnostics/memory", headers: { authorization } });
      expect(asIs.json<MemoryDiagnostics>().gc).toBe(false);
      expect(collections).toBe(1);
    } finally {
      await app.close();
      await withoutGc.close();
    }
  });

  it("is routed by the gateway to an inventory process, for admins", () => {
    const match = matchPublicRoute("GET", "/admin/diagnostics/memory");
    expect(match.kind === "route" && [match.route.service, match.route.access]).toEqual([
      "inventory",
      "admin",
    ]);
  });
});
