import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { registerDashboardRoutes } from "../../src/platform/http/dashboard-routes.js";
import { createHttpServer } from "../../src/platform/http/server.js";
import { createLogger } from "../../src/platform/observability/logger.js";
import { Metrics } from "../../src/platform/observability/metrics.js";

/** Every listing of a directory in this file's module graph, counted. */
const listings = vi.hoisted(() => ({ count: 0 }));
vi.mock("node:fs/promises", async (importOriginal) => {
  const actual = await importOriginal<typeof import("node:fs/promises")>();
  return {
    ...actual,
    readdir: ((...args: Parameters<typeof actual.readdir>) => {
      listings.count++;
      return actual.readdir(...args);
    }) as typeof actual.readdir,
  };
});

const MISSING_REQUESTS = 1000;
const AT_ONCE = 100;

describe("requests for dashboard assets that do not exist", () => {
  const root = mkdtempSync(join(tmpdir(), "floodgate-assets-"));
  const distDir = join(root, "dist");
  let clock = 1_000_000;
  const app = createHttpServer({
    logger: createLogger("silent"),
    metrics: new Metrics(),
    bodyLimitBytes: 1024,
    isReady: () => true,
  });

  beforeAll(async () => {
    mkdirSync(join(distDir, "assets"), { recursive: true });
    writeFileSync(join(distDir, "index.html"), "<!doctype html><title>fixture page</title>");
    writeFileSync(join(distDir, "assets", "index-AbC123.js"), "console.log('fixture');");
    registerDashboardRoutes(app, { distDir, now: () => clock });
    await app.ready();
  });

  afterAll(async () => {
    await app.close();
    rmSync(root, { recursive: true, force: true });
  });

  const get = async (file: string) =>
    (await app.inject({ method: "GET", url: `/dashboard/assets/${file}` })).statusCode;

  it("list the assets folder once, however many arrive (1,000, 100 at a time), within a second", async () => {
    listings.count = 0;
    for (let sent = 0; sent < MISSING_REQUESTS; sent += AT_ONCE) {
      const statuses = await Promise.all(
        Array.from({ length: AT_ONCE }, (_, i) => get(`made-up-${sent + i}.js`)),
      );
      expect(new Set(statuses)).toEqual(new Set([404]));
    }
    expect(listings.count).toBe(1);
    // A built asset is served from the listing, with no listing of its own.
    expect(await get("index-AbC123.js")).toBe(200);
    expect(listings.count).toBe(1);
  });

  it("still find an asset a rebuild added, once a second has passed", async () => {
    writeFileSync(join(distDir, "assets", "later-Zz9.js"), "export {};");
    clock += 1000;
    const before = listings.count;
    expect(await get("later-Zz9.js")).toBe(200);
    expect(listings.count).toBe(before + 1);
  });
});
