import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { TokenService } from "../../src/platform/auth/tokens.js";
import { type ChildServer, freePort, startChildServer } from "../support/child-server.js";

const SECRET = "crash-test-secret-that-is-at-least-32-chars";
const tokens = new TokenService(SECRET);
const admin = { authorization: `Bearer ${tokens.issue({ userId: "admin", admin: true })}` };
const STOCK = 400;
const BUYERS = 1500;

async function call(
  pool: Pool,
  method: "GET" | "POST",
  path: string,
  headers: Record<string, string>,
  body?: unknown,
) {
  const response = await pool.request({
    method,
    path,
    headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
}

describe("kill -9 of the whole embedded server during a burst", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "floodgate-crash-"));
  let child: ChildServer | undefined;
  afterAll(async () => {
    await child?.kill("SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("keeps every 202 exactly once, oversells nothing, and stock, reservations and orders agree", async () => {
    const port = await freePort();
    const env = {
      FLOODGATE_DATA_DIR: dataDir,
      FLOODGATE_AUTH_SECRET: SECRET,
      FLOODGATE_SEED_DEMO: "false",
      FLOODGATE_LOG_LEVEL: "warn",
      FLOODGATE_RESERVATION_TTL_SECONDS: "10",
    };
    // A slow write ceiling leaves a backlog in the queue when the process dies.
    child = await startChildServer(["start"], { ...env, FLOODGATE_ORDER_WRITE_RATE: "150" }, port);
    let pool = new Pool(child.url, { connections: 64 });
    const created = await call(pool, "POST", "/admin/products", admin, {
      sku: "CRASH-1",
      name: "Crash test",
      priceCents: 100,
      currency: "EUR",
    });
    expect(created.status).toBe(201);
    const sale = await call(pool, "POST", "/admin/sales", admin, {
      sku: "CRASH-1",
      stock: STOCK,
      perUserLimit: 1,
      startsAt: new Date(Date.now() - 1000).toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(sale.status).toBe(201);

    const acceptedIds = new Map<string, string>(); // user -> order id
    const unknownOutcome: number[] = []; // buyers whose connection died with the process
    const order = (p: Pool, i: number) =>
      call(
        p,
        "POST",
        "/orders",
        {
          authorization: `Bearer ${tokens.issue({ userId: `crash-buyer-${i}` })}`,
          "idempotency-key": `k-${i}`,
        },
        { sku: "CRASH-1", quantity: 1 },
      );
    const burst = Array.from({ length: BUYERS }, async (_, i) => {
      try {
        const response = await order(pool, i);
        if (response.status === 202) acceptedIds.set(`crash-buyer-${i}`, response.body.orderId as string);
      } catch {
        unknownOutcome.push(i); // as in real life: the client cannot tell whether it was accepted
      }
    });
    // Kill once some orders were accepted but while the burst is still running.
    const killBy = Date.now() + 20_000;
    while (acceptedIds.size < 150 && Date.now() < killBy)
      await new Promise((resolve) => setTimeout(resolve, 5));
    await child.kill("SIGKILL");
    await Promise.allSettled(burst);
    await pool.destroy();
    expect(acceptedIds.size).toBeGreaterThanOrEqual(150);
    expect(unknownOutcome.length, "the kill should land mid-burst").toBeGreaterThan(0);

    // Restart on the same data directory, with no write ceiling, and check everything agrees.
    child = await startChildServer(["start"], env, port);
    pool = new Pool(child.url, { connections: 16 });
    // Clients whose request died retry with the same key: each gets a definite answer, and a 202
    // means a stored order, whether or not the first attempt had reached the queue.
    for (const i of unknownOutcome) {
      const retried = await order(pool, i);
      expect([202, 409], JSON.stringify(retried.body)).toContain(retried.status);
      if (retried.status === 202) acceptedIds.set(`crash-buyer-${i}`, retried.body.orderId as string);
    }
    let levels = { available: 0, reserved: -1, sold: 0 };
    const deadline = Date.now() + 45_000;
    do {
      await new Promise((resolve) => setTimeout(resolve, 250));
      levels = (await call(pool, "GET", "/admin/sales/CRASH-1", admin)).body.levels as typeof levels;
    } while (levels.reserved !== 0 && Date.now() < deadline);
    expect(levels.reserved, `dangling reservations: ${child.output()}`).toBe(0);

    const stored: { id: string; userId: string; status: string }[] = [];
    let cursor: string | null = null;
    do {
      const page = await call(
        pool,
        "GET",
        `/admin/orders?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
        admin,
      );
      stored.push(...(page.body.items as typeof stored));
      cursor = page.body.nextCursor as string | null;
    } while (cursor);

    const storedIds = new Set(stored.map((o) => o.id));
    expect(storedIds.size).toBe(stored.length); // no order stored twice
    expect(new Set(stored.map((o) => o.userId)).size).toBe(stored.length); // limit 1 per user held
    for (const [user, id] of acceptedIds) {
      expect(storedIds.has(id), `accepted order ${id} of ${user} is missing`).toBe(true);
    }
    // No accepted order was cancelled for waiting in the queue across the crash.
    expect(stored.every((o) => o.status === "created")).toBe(true);
    expect(levels.sold).toBe(stored.length); // inventory and orders agree
    expect(levels.sold).toBeLessThanOrEqual(STOCK); // nothing oversold
    expect(levels.available + levels.reserved + levels.sold).toBe(STOCK);

    // A client that retries with its key after the crash gets its first answer back.
    const [user, id] = [...acceptedIds][0]!;
    const retry = await call(
      pool,
      "POST",
      "/orders",
      {
        authorization: `Bearer ${tokens.issue({ userId: user })}`,
        "idempotency-key": `k-${user.split("-").at(-1)}`,
      },
      { sku: "CRASH-1", quantity: 1 },
    );
    expect(retry).toEqual({ status: 202, body: { orderId: id, status: "pending" } });
    await pool.close();
  });
});
