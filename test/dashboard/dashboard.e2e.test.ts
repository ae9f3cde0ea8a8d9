import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { infraRequired } from "../support/infra.js";
import { eventually, openSale, startTestServer, type TestServer } from "../support/test-server.js";
import { TRAVERSAL_PATHS } from "./traversal-paths.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCREENSHOT = fileURLToPath(new URL("./__screenshots__/dashboard.png", import.meta.url));
const SKU = "DASH-E2E";
const STOCK = 150;
const BUYERS = 400;

/**
 * Like the infrastructure servers: a missing browser skips the test locally and fails it when
 * FLOODGATE_REQUIRE_INFRA=1 (.ci/run installs Chromium first).
 */
function chromiumAvailable(): boolean {
  const installed = existsSync(CHROMIUM);
  if (!installed && infraRequired) {
    throw new Error(`${CHROMIUM} is missing and FLOODGATE_REQUIRE_INFRA=1 (apt-get install -y chromium)`);
  }
  return installed;
}

/** What went wrong in the page, as it happened. */
class PageProblems {
  readonly consoleErrors: string[] = [];
  readonly pageErrors: string[] = [];
  readonly failedRequests: string[] = [];
  readonly errorResponses: string[] = [];

  constructor(page: Page) {
    page.on("console", (message) => {
      if (message.type() === "error")
        this.consoleErrors.push(`${message.text()} (${message.location().url})`);
    });
    page.on("pageerror", (error) => this.pageErrors.push(error.message));
    page.on("requestfailed", (request) =>
      this.failedRequests.push(`${request.url()}: ${request.failure()?.errorText ?? "failed"}`),
    );
    page.on("response", (response) => {
      if (response.status() >= 400) this.errorResponses.push(`${response.status()} ${response.url()}`);
    });
  }

  all(): string[] {
    return [...this.consoleErrors, ...this.pageErrors, ...this.failedRequests, ...this.errorResponses];
  }

  clear(): void {
    for (const list of [this.consoleErrors, this.pageErrors, this.failedRequests, this.errorResponses]) {
      list.length = 0;
    }
  }
}

/** A number the page exposes in a `data-value` / `data-peak` attribute. */
async function numberAt(
  page: Page,
  selector: string,
  attribute: "value" | "peak" = "value",
): Promise<number> {
  const text = await page.locator(selector).getAttribute(`data-${attribute}`);
  return text === null || text === "" ? Number.NaN : Number(text);
}

async function untilNumber(
  page: Page,
  selector: string,
  expected: number,
  attribute: "value" | "peak" = "value",
) {
  await eventually(
    async () => (await numberAt(page, selector, attribute)) === expected,
    20_000,
    `${selector} data-${attribute} to be ${expected} (it is ${await numberAt(page, selector, attribute)})`,
  );
}

describe.skipIf(!chromiumAvailable())("dashboard in headless Chromium", () => {
  let server: TestServer;
  let context: BrowserContext;
  let page: Page;
  let problems: PageProblems;
  let profileDir: string;

  beforeAll(async () => {
    // Test what the sources say now, not a build left over from before an edit.
    execFileSync(process.execPath, ["--import", "tsx", "dashboard/build.ts", "--if-stale"], {
      cwd: REPO_ROOT,
      stdio: "inherit",
    });
    // A write rate below the burst, so the queue visibly fills and drains.
    server = await startTestServer({ orderWriteRate: "40" });
    await openSale(server, { sku: SKU, stock: STOCK, perUserLimit: 1 });
    profileDir = mkdtempSync(join(tmpdir(), "floodgate-chromium-"));
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    problems = new PageProblems(page);
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  it("loads cleanly, follows a flash sale live, and ends on the sale's final figures", async () => {
    const assetResponses: { url: string; contentType: string; cacheControl: string }[] = [];
    page.on("response", (response) => {
      if (new URL(response.url()).pathname.startsWith("/dashboard/assets/")) {
        const headers = response.headers();
        assetResponses.push({
          url: response.url(),
          contentType: headers["content-type"] ?? "",
          cacheControl: headers["cache-control"] ?? "",
        });
      }
    });
    const loaded = await page.goto(`${server.url}/dashboard`);
    expect(loaded?.status()).toBe(200);
    expect(loaded?.headers()["cache-control"]).toBe("no-cache");
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 10_000 });
    expect(await page.locator("#connection-label").textContent()).toBe("Live");
    await untilNumber(page, `[data-sku="${SKU}"] [data-stock="available"]`, STOCK);
    expect(await page.locator(".card").count()).toBe(8);
    expect(await page.locator(".card canvas").count()).toBe(8);
    // Dead letters and redeliveries sit next to the queue depth they explain.
    const titles = await page.locator(".card-title").allTextContents();
    expect(titles.indexOf("Dead letters and redeliveries")).toBe(titles.indexOf("Queue depth") + 1);
    // The write rate is drawn against the ceiling the server was started with.
    await untilNumber(page, '[data-series="dbWriteCeilingPerSecond"]', 40);
    expect(assetResponses.map((asset) => new URL(asset.url).pathname.split(".").pop()).sort()).toEqual([
      "css",
      "js",
    ]);
    for (const asset of assetResponses) {
      expect(asset.cacheControl).toBe("public, max-age=31536000, immutable");
      expect(asset.contentType).toMatch(/^text\/(javascript|css); charset=utf-8$/);
    }
    expect(await numberAt(page, '[data-series="acceptedPerSecond"]', "peak")).toBe(0);

    // The flash sale: distinct buyers in waves, so the rates span a few sampling intervals.
    const statuses: number[] = [];
    const WAVES = 8;
    for (let wave = 0; wave < WAVES; wave++) {
      const buyers = Array.from({ length: BUYERS / WAVES }, (_, i) => wave * (BUYERS / WAVES) + i);
      const answers = await Promise.all(
        buyers.map((buyer) =>
          server.request("POST", "/orders", {
            user: `dashboard-buyer-${buyer}`,
            headers: { "idempotency-key": `dashboard-${buyer}` },
            body: { sku: SKU, quantity: 1 },
          }),
        ),
      );
      statuses.push(...answers.map((answer) => answer.status));
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    const accepted = statuses.filter((status) => status === 202).length;
    const refused = statuses.length - accepted;
    expect(accepted).toBeGreaterThan(0);

    // The truth after the worker has stored every accepted order, from the admin API.
    const levels = async () =>
      (
        await server.request<{ levels: { available: number; reserved: number; sold: number } }>(
          "GET",
          `/admin/sales/${SKU}`,
          { user: "admin", admin: true },
        )
      ).body.levels;
    await eventually(async () => (await levels()).reserved === 0, 30_000, "every accepted order stored");
    const final = await levels();
    expect(final.sold).toBe(accepted);

    // The page ends on exactly those figures: stock left, sold, and orders by outcome and status.
    await untilNumber(page, `[data-sku="${SKU}"] [data-stock="available"]`, final.available);
    await untilNumber(page, `[data-sku="${SKU}"] [data-stock="sold"]`, final.sold);
    await untilNumber(page, `[data-sku="${SKU}"] [data-stock="reserved"]`, 0);
    await untilNumber(page, '[data-outcome="accepted"]', accepted);
    await untilNumber(page, '[data-status="created"] .status-value', accepted);
    await untilNumber(page, '[data-status="pending"] .status-value', 0);
    const refusedOnPage = async () => {
      let total = 0;
      for (const outcome of await page.locator('.outcome:not([data-outcome="accepted"])').all()) {
        total += Number(await outcome.getAttribute("data-value"));
      }
      return total;
    };
    await eventually(
      async () => (await refusedOnPage()) === refused,
      20_000,
      `the refused outcomes to add up to ${refused}`,
    );
    expect(await page.locator(`[data-sku="${SKU}"] .stock-total`).textContent()).toBe(
      `${final.available} left of ${STOCK}`,
    );

    // The charts moved: every rate the sale drives peaked above zero in the window.
    for (const series of ["requestsPerSecond", "acceptedPerSecond", "dbWritesPerSecond", "queueDepth"]) {
      expect(await numberAt(page, `[data-series="${series}"]`, "peak"), series).toBeGreaterThan(0);
    }
    if (refused > 0)
      expect(await numberAt(page, '[data-series="rejectedPerSecond"]', "peak")).toBeGreaterThan(0);
    // A healthy sale gives up on nothing and retries nothing, and the page says so in numbers.
    expect(await numberAt(page, '[data-series="deadLetters"]')).toBe(0);
    expect(await numberAt(page, '[data-series="redelivered"]')).toBe(0);

    // Let the drained queue and the falling rates show, then keep a picture for people to look at.
    await page.waitForTimeout(1_500);
    mkdirSync(join(SCREENSHOT, ".."), { recursive: true });
    await page.screenshot({ path: SCREENSHOT });

    // Hovering a chart reads out the values at that moment; leaving it goes back to the latest.
    const firstCard = page.locator(".card").first();
    await firstCard.locator(".u-over").hover();
    expect(await firstCard.locator(".card-when").textContent()).toMatch(/^at \d\d:\d\d:\d\d$/);
    await page.mouse.move(0, 0);
    expect(await firstCard.locator(".card-when").textContent()).toBe("latest");

    expect(problems.all()).toEqual([]);
  });

  it("says so when the stream drops, then reconnects and carries on", async () => {
    await page.locator('#connection[data-state="live"]').waitFor();
    problems.clear();
    // Refuse new stream connections, then cut the open ones: the page loses its stream.
    await page.route("**/dashboard/events", (route) => route.abort("connectionrefused"));
    server.running.app.server.closeAllConnections();
    await page.locator('#connection[data-state="disconnected"]').waitFor({ timeout: 15_000 });
    expect(await page.locator("#connection-label").textContent()).toBe("Disconnected");
    const banner = page.locator("#disconnected-banner");
    expect(await banner.isVisible()).toBe(true);
    expect(await banner.textContent()).toMatch(/^Disconnected from Floodgate: .+; reconnecting/);

    const lastSampleAt = async () => Number(await page.locator("#last-sample").getAttribute("data-at"));
    const before = await lastSampleAt();
    await page.unroute("**/dashboard/events");
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 20_000 });
    expect(await banner.isVisible()).toBe(false);
    await eventually(async () => (await lastSampleAt()) > before, 10_000, "a new sample after reconnecting");
    // The only failures are the stream's own, while it was cut off.
    for (const problem of problems.all()) expect(problem).toMatch(/\/dashboard\/(events|series)/);
  });

  it("answers 404 to every path-traversal attempt under /dashboard", async () => {
    for (const path of TRAVERSAL_PATHS) {
      const response = await server.request("GET", path);
      expect(response.status, path).toBe(404);
      expect(response.body, path).toMatchObject({ error: { code: "route_not_found" } });
    }
  });
});
