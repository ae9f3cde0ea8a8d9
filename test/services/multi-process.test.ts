import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { afterAll, describe, expect, it } from "vitest";
import { TokenService } from "../../src/platform/auth/tokens.js";
import { SERVICE_NAMES, type ServiceName } from "../../src/platform/config/settings.js";
import { type ChildServer, freePort, startChildServer } from "../support/child-server.js";
import { serverAvailable, servers } from "../support/infra.js";

async function call(url: string, method: "GET" | "POST", path: string, token: string, body?: unknown) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const natsUp = await serverAvailable("nats");

describe.skipIf(!natsUp)("one service per process, talking over HTTP", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "floodgate-multi-"));
  const queuePrefix = `multi${randomUUID().slice(0, 8)}`;
  const children: ChildServer[] = [];
  afterAll(async () => {
    await Promise.all(children.map((child) => child.kill("SIGTERM")));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("runs the flash-sale path with every service in a process of its own, sharing one data dir", async () => {
    const ports = Object.fromEntries(
      await Promise.all(SERVICE_NAMES.map(async (name) => [name, await freePort()] as const)),
    ) as Record<ServiceName, number>;
    const serviceUrls = SERVICE_NAMES.map((name) => `${name}=http://127.0.0.1:${ports[name]}`).join(",");
    const started = await Promise.all(
      SERVICE_NAMES.map((name, index) =>
        startChildServer(
          ["service", name],
          {
            FLOODGATE_DATA_DIR: dataDir,
            // Services apart meet each other's events only on a shared queue.
            FLOODGATE_QUEUE_URL: servers.nats.url,
            FLOODGATE_QUEUE_PREFIX: queuePrefix,
            FLOODGATE_SERVICE_URLS: serviceUrls,
            FLOODGATE_WORKER_ID: String(index + 1),
            FLOODGATE_LOG_LEVEL: "warn",
          },
          ports[name],
          // Eight processes each opening an embedded database at once, on two loaded cores.
          180_000,
        ),
      ),
    );
    children.push(...started);
    const url = Object.fromEntries(SERVICE_NAMES.map((name, i) => [name, started[i]!.url])) as Record<
      ServiceName,
      string
    >;

    // The processes generated one shared secret in the data dir; tokens from it work everywhere.
    const tokens = new TokenService(readFileSync(join(dataDir, "auth-secret"), "utf8").trim());
    const admin = tokens.issue({ userId: "admin", admin: true });

    expect(
      (
        await call(url.catalog, "POST", "/admin/products", admin, {
          sku: "MULTI-1",
          name: "Multi",
          priceCents: 700,
          currency: "EUR",
        })
      ).status,
    ).toBe(201);
    const sale = await call(url.sales, "POST", "/admin/sales", admin, {
      sku: "MULTI-1",
      stock: 50,
      perUserLimit: 1,
      startsAt: new Date(Date.now() - 1000).toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(sale.status, JSON.stringify(sale.body)).toBe(201);

    const pool = new Pool(url.orders, { connections: 64 });
    const responses = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const response = await pool.request({
          method: "POST",
          path: "/orders",
          headers: {
            authorization: `Bearer ${tokens.issue({ userId: `mp-${i}` })}`,
            "content-type": "application/json",
            "idempotency-key": `mp-${i}`,
          },
          body: JSON.stringify({ sku: "MULTI-1", quantity: 1 }),
        });
        return { status: response.statusCode, body: (await response.body.json()) as { orderId?: string } };
      }),
    );
    await pool.close();
    const accepted = responses.filter((r) => r.status === 202);
    expect(accepted).toHaveLength(50);
    expect(responses.filter((r) => r.status === 409)).toHaveLength(250);

    const deadline = Date.now() + 20_000;
    let levels: Record<string, number> = {};
    while (Date.now() < deadline) {
      levels = (await call(url.sales, "GET", "/admin/sales/MULTI-1", admin)).body.levels as Record<
        string,
        number
      >;
      if (levels.sold === 50) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(levels).toMatchObject({ available: 0, reserved: 0, sold: 50 });
    const stored = await call(url.orders, "GET", "/admin/orders?limit=100", admin);
    expect((stored.body.items as { id: string }[]).map((o) => o.id).sort()).toEqual(
      accepted.map((r) => r.body.orderId).sort(),
    );
    // A route another process owns is not served here.
    expect((await call(url.orders, "GET", "/products", admin)).status).toBe(404);
  }, 300_000);
});
