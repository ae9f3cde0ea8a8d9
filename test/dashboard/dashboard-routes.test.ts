import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerDashboardRoutes } from "../../src/platform/http/dashboard-routes.js";
import { createHttpServer } from "../../src/platform/http/server.js";
import { createLogger } from "../../src/platform/observability/logger.js";
import { Metrics } from "../../src/platform/observability/metrics.js";
import { eventually } from "../support/test-server.js";
import { TRAVERSAL_PATHS } from "./traversal-paths.js";

interface Served {
  get(path: string, method?: "GET" | "HEAD"): Promise<RawResponse>;
  close(): Promise<void>;
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The real HTTP server (its 404 handler included) with only the dashboard routes, on a free port. */
async function serveDashboard(distDir: string): Promise<Served> {
  const app = createHttpServer({
    logger: createLogger("silent"),
    metrics: new Metrics(),
    bodyLimitBytes: 1024,
    isReady: () => true,
  });
  registerDashboardRoutes(app, { distDir });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("the server has no TCP address");
  const pool = new Pool(`http://127.0.0.1:${address.port}`);
  return {
    // undici sends the path byte for byte: no client-side normalising of ".." or "%2e".
    async get(path, method = "GET") {
      const response = await pool.request({ method, path });
      return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
    },
    async close() {
      await pool.close();
      await app.close();
    },
  };
}

describe("dashboard routes", () => {
  const root = mkdtempSync(join(tmpdir(), "floodgate-dashboard-"));
  const distDir = join(root, "dist");
  let served: Served;

  beforeAll(async () => {
    mkdirSync(join(distDir, "assets"), { recursive: true });
    writeFileSync(join(distDir, "index.html"), "<!doctype html><title>fixture page</title>");
    writeFileSync(join(distDir, "assets", "index-AbC123.js"), "console.log('fixture');");
    writeFileSync(join(distDir, "assets", "index-AbC123.css"), "body{}");
    // What a traversal would be after: files next to assets/ and above the build, of a type
    // the route serves (.js) and of one it does not (.json).
    writeFileSync(join(distDir, "secret.js"), "SECRET-NEXT-TO-ASSETS");
    writeFileSync(join(root, "secret.js"), "SECRET-ABOVE-THE-BUILD");
    writeFileSync(join(root, "package.json"), '{"name":"SECRET-ABOVE-THE-BUILD"}');
    // In assets/, but of a type the build never emits.
    writeFileSync(join(distDir, "assets", "notes.txt"), "SECRET-WRONG-TYPE");
    served = await serveDashboard(distDir);
  });

  afterAll(async () => {
    await served?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("serves the page at /dashboard and /dashboard/, revalidated on every load, under a same-origin policy", async () => {
    for (const path of ["/dashboard", "/dashboard/"]) {
      const page = await served.get(path);
      expect(page.status).toBe(200);
      expect(page.body).toContain("fixture page");
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(page.headers["cache-control"]).toBe("no-cache");
      expect(page.headers["content-security-policy"]).toContain("default-src 'self'");
      expect(page.headers["x-content-type-options"]).toBe("nosniff");
    }
  });

  it("serves built assets with their content type, cached for good (their names carry a content hash)", async () => {
    const script = await served.get("/dashboard/assets/index-AbC123.js");
    expect(script.status).toBe(200);
    expect(script.body).toBe("console.log('fixture');");
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(script.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    const style = await served.get("/dashboard/assets/index-AbC123.css");
    expect(style.headers["content-type"]).toBe("text/css; charset=utf-8");
    const head = await served.get("/dashboard/assets/index-AbC123.js", "HEAD");
    expect(head.status).toBe(200);
    expect(head.body).toBe("");
  });

  it("answers 404 for assets the build did not write, and for types it never emits", async () => {
    for (const path of ["/dashboard/assets/missing-123.js", "/dashboard/assets/notes.txt"]) {
      const response = await served.get(path);
      expect(response.status, path).toBe(404);
      expect(JSON.parse(response.body)).toMatchObject({ error: { code: "route_not_found" } });
    }
  });

  it("serves an asset a rebuild added while the server was running, within a second or so", async () => {
    expect((await served.get("/dashboard/assets/later-Zz9.js")).status).toBe(404);
    writeFileSync(join(distDir, "assets", "later-Zz9.js"), "export {};");
    // Misses re-list assets/ at most once a second (asset-listing.test.ts counts the listings).
    await eventually(async () => (await served.get("/dashboard/assets/later-Zz9.js")).status === 200, 5000);
  });

  it.each(TRAVERSAL_PATHS)("answers 404 to %s and reveals no file", async (path) => {
    const response = await served.get(path);
    expect(response.status).toBe(404);
    expect(response.body).not.toContain("SECRET");
  });

  it("answers 503 with how to build the dashboard when there is no build", async () => {
    const unbuilt = await serveDashboard(join(root, "never-built"));
    try {
      const page = await unbuilt.get("/dashboard");
      expect(page.status).toBe(503);
      expect(page.headers["content-type"]).toBe("text/html; charset=utf-8");
      expect(page.headers["cache-control"]).toBe("no-store");
      expect(page.body).toContain("npm run build:dashboard");
      expect((await unbuilt.get("/dashboard/assets/index-AbC123.js")).status).toBe(404);
    } finally {
      await unbuilt.close();
    }
  });
});
