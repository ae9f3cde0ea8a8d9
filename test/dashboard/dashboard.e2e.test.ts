import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type RunningPaymentSimulator,
  startPaymentSimulator,
} from "../../src/platform/payments/simulator/simulator-server.js";
import { WEBHOOK_SECRET } from "../services/payments/payments-harness.js";
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
const MAIL_SCREENSHOT = fileURLToPath(new URL("./__screenshots__/dashboard-mail.png", import.meta.url));
const SKU = "DASH-E2E";
const STOCK = 150;
const BUYERS = 400;
/** openSale's price, 19.99 EUR: 19 points at the default rate of one per euro. */
const POINTS_PER_ORDER = 19;

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
  let simulator: RunningPaymentSimulator;
  /** One order of the sale and its buyer, for the order's life after the sale. */
  let bought: { orderId: string; user: string } | undefined;
  let accepted = 0;
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
    // Payments go to a payment simulator of the test's own; the carrier delivers at once.
    simulator = await startPaymentSimulator({ secret: WEBHOOK_SECRET, host: "127.0.0.1", port: 0 });
    // A write rate below the burst, so the queue visibly fills and drains.
    server = await startTestServer({
      orderWriteRate: "40",
      paymentProviderUrl: simulator.url,
      paymentWebhookSecret: WEBHOOK_SECRET,
      carrierDeliverySeconds: "0",
    });
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
    await simulator?.close();
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
    expect(await page.locator(".card").count()).toBe(9);
    expect(await page.locator(".card canvas").count()).toBe(9);
    // Dead letters and redeliveries sit next to the queue depth they explain.
    const titles = await page.locator(".card-title").allTextContents();
    expect(titles.indexOf("Dead letters and redeliveries")).toBe(titles.indexOf("Queue depth") + 1);
    // Orders by status: one line per status, across the whole row for its six readings.
    const byStatus = page.locator(".card-wide", { hasText: "Orders by status" });
    expect(
      await byStatus.locator("[data-series]").evaluateAll((all) => all.map((e) => e.dataset.series)),
    ).toEqual(
      ["created", "paid", "shipped", "completed", "cancelled", "refunded"].map((s) => `orderStatus-${s}`),
    );
    // The lifecycle panels are there before anything happened, at zero.
    for (const selector of [
      '#payments [data-key="succeeded"]',
      '#emails [data-key="order_confirmation"]',
      '[data-points="awarded"] .status-value',
      '#orders [data-status="paid"] .status-value',
    ]) {
      expect(await numberAt(page, selector), selector).toBe(0);
    }
    expect(await page.locator("#scope-caption").textContent()).toContain("this process's own");
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
      const first = answers.findIndex((answer) => answer.status === 202);
      if (!bought && first >= 0) {
        bought = {
          orderId: (answers[first]!.body as { orderId: string }).orderId,
          user: `dashboard-buyer-${buyers[first]}`,
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    accepted = statuses.filter((status) => status === 202).length;
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
    // Nobody paid yet: no order went further than created.
    for (const status of ["paid", "shipped", "completed", "cancelled", "refunded"]) {
      expect(await numberAt(page, `[data-status="${status}"] .status-value`), status).toBe(0);
    }
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

  it("follows an order through payment, delivery, its emails and points, and lists its emails in the mail tab", async () => {
    expect(bought).toBeDefined();
    const { orderId, user } = bought!;
    // The buyer pays through the payment simulator; the carrier delivers at once.
    const opened = await server.request<{ redirectUrl: string }>("POST", `/orders/${orderId}/payment`, {
      user,
    });
    expect(opened.status).toBe(201);
    const confirmed = await fetch(`${opened.body.redirectUrl}/confirm`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(confirmed.status).toBe(200);
    await eventually(
      async () =>
        (await server.request<{ status: string }>("GET", `/orders/${orderId}`, { user })).body.status ===
        "completed",
      30_000,
      "the order completed",
    );

    // The status tiles: one order went all the way; the rest of the sale is still created.
    await untilNumber(page, '[data-status="created"] .status-value', accepted);
    for (const status of ["paid", "shipped", "completed"])
      await untilNumber(page, `[data-status="${status}"] .status-value`, 1);
    for (const status of ["cancelled", "refunded"])
      expect(await numberAt(page, `[data-status="${status}"] .status-value`), status).toBe(0);
    for (const status of ["paid", "shipped", "completed"])
      expect(await numberAt(page, `[data-series="orderStatus-${status}"]`, "peak"), status).toBeGreaterThan(
        0,
      );
    // Payments, emails and points, as this process counted them.
    await untilNumber(page, '#payments [data-key="opened"]', 1);
    await untilNumber(page, '#payments [data-key="succeeded"]', 1);
    expect(await numberAt(page, '#payments [data-key="failed"]')).toBe(0);
    await untilNumber(page, '#emails [data-key="order_confirmation"]', 1);
    await untilNumber(page, '#emails [data-key="shipped"]', 1);
    await untilNumber(page, '[data-points="awarded"] .status-value', POINTS_PER_ORDER);
    await untilNumber(page, '[data-points="net"] .status-value', POINTS_PER_ORDER);
    expect(await numberAt(page, '[data-points="reversed"] .status-value')).toBe(0);

    // The mail tab asks for an admin token first, then lists the order's two emails.
    await page.locator("#tab-mail").click();
    await page.locator("#mail-view").waitFor({ state: "visible" });
    expect(await page.locator("#layout").isVisible()).toBe(false);
    expect(await page.locator("#mail-status").textContent()).toMatch(/^No token/);
    await page.locator("#mail-token").fill(server.bearer("ops", true).replace(/^Bearer /, ""));
    await page.locator("#mail-token-use").click();
    const rows = page.locator("#mail-table tr.mail-row");
    await eventually(async () => (await rows.count()) === 2, 20_000, "two emails listed");
    expect(
      await rows.evaluateAll((all) => all.map((row) => [row.dataset.kind, row.dataset.orderId])),
    ).toEqual([
      ["shipped", orderId],
      ["order_confirmation", orderId],
    ]);
    const confirmation = rows.and(page.locator('[data-kind="order_confirmation"]'));
    expect(await confirmation.locator(".mail-cell-to").textContent()).toMatch(new RegExp(`^${user}@`));
    expect(await confirmation.locator(".mail-cell-subject").textContent()).toContain(orderId);
    expect(await confirmation.locator(".mail-cell-kind").textContent()).toBe("Order confirmation");
    expect(await confirmation.locator(".mail-cell-status").textContent()).toBe("sent");
    // The token stays in this tab's sessionStorage, nowhere else.
    expect(await page.evaluate("sessionStorage.getItem('floodgate.adminToken')")).toBeTruthy();
    expect(await page.evaluate("localStorage.length")).toBe(0);

    // One message: its facts, its HTML (sandboxed), its text, and the .eml as the catcher kept it.
    await confirmation.click();
    const message = page.locator("#mail-message");
    await message.locator(".mail-subject").waitFor();
    expect(await message.locator(".mail-subject").textContent()).toBe(
      await confirmation.locator(".mail-cell-subject").textContent(),
    );
    expect(await page.frameLocator(".mail-html").locator("h1").textContent()).toBe(
      "Thank you: your order is paid",
    );
    expect(await message.locator(".mail-text").textContent()).toContain("€19.99");
    await page.locator("#mail-show-source").click();
    await message.locator(".mail-source").waitFor({ state: "visible" });
    expect(await message.locator(".mail-source").textContent()).toMatch(
      new RegExp(`x-floodgate-order-id: ${orderId}`, "i"),
    );
    await page.screenshot({ path: MAIL_SCREENSHOT });

    // Filtered by kind.
    await page.locator("#mail-kind").selectOption("shipped");
    await eventually(
      async () => (await rows.evaluateAll((all) => all.map((row) => row.dataset.kind))).join() === "shipped",
      10_000,
      "only the shipping email listed",
    );
    expect(problems.all()).toEqual([]);

    // Forgotten, the list is gone; a token that is not one is refused in words.
    await page.locator("#mail-token-forget").click();
    expect(await rows.count()).toBe(0);
    expect(await page.evaluate("sessionStorage.getItem('floodgate.adminToken')")).toBeNull();
    await page.locator("#mail-token").fill("not-a-token");
    await page.locator("#mail-token-use").click();
    await eventually(
      async () => /^The token was refused/.test((await page.locator("#mail-status").textContent()) ?? ""),
      10_000,
      "the bad token refused",
    );
    // The only failure is that refusal.
    for (const problem of problems.all()) expect(problem).toMatch(/401.*\/admin\/mail/);
    problems.clear();
    await page.locator("#mail-token-forget").click();

    // Back to the live figures.
    await page.locator("#tab-overview").click();
    await page.locator("#layout").waitFor({ state: "visible" });
    expect(await page.locator("#mail-view").isVisible()).toBe(false);
  }, 90_000);

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
