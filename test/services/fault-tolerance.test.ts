import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenService } from "../../src/platform/auth/tokens.js";
import {
  type BrokerProcess,
  natsServerBinary,
  redisServerBinary,
  startNatsServer,
  startRedisServer,
} from "../platform/queue/fixtures/broker-processes.js";
import { type ChildServer, freePort, startChildServer } from "../support/child-server.js";
import { infraRequired, serverAvailable } from "../support/infra.js";
import { createScratchPostgresDatabase, type ScratchPostgresDatabase } from "../support/scratch-postgres.js";

const SECRET = "fault-test-secret-that-is-at-least-32-chars";
const tokens = new TokenService(SECRET);
const ADMIN = `Bearer ${tokens.issue({ userId: "ops", admin: true })}`;
const SKU = "FAULT-1";
const STOCK = 1200;
/** Buyers arrive at about this rate while the faults happen (bounded: at most MAX_BUYERS in all). */
const ARRIVALS_PER_SECOND = 400;
const MAX_BUYERS = 6000;

type ProcessName = "catalog" | "sales" | "inventory" | "intakeA" | "intakeB" | "worker";

interface Answer {
  status: number;
  body: { orderId?: string; error?: { code: string }; [key: string]: unknown };
}

const binariesPresent = natsServerBinary !== undefined && redisServerBinary !== undefined;
if (!binariesPresent && infraRequired) throw new Error("nats-server and redis-server are required");

/**
 * The flash-sale path as production runs it: one service per process (two intakes, a separate
 * worker), stock in Redis, orders on NATS JetStream, PostgreSQL as the database of record. During
 * a burst: kill -9 an intake, kill -9 the worker, kill and restart NATS, kill and restart Redis.
 * Afterwards every invariant must hold.
 */
describe.skipIf(!binariesPresent)("faults during a flash sale across processes", async () => {
  const postgresUp = await serverAvailable("postgres");
  const dir = mkdtempSync(join(tmpdir(), "floodgate-faults-"));
  const processes = new Map<ProcessName, ChildServer>();
  let nats: BrokerProcess | undefined;
  let redis: BrokerProcess | undefined;
  let database: ScratchPostgresDatabase | undefined;
  const ports = {} as Record<ProcessName, number>;
  let envOf: (name: ProcessName) => Record<string, string>;

  const SERVICE_OF: Record<ProcessName, string> = {
    catalog: "catalog",
    sales: "sales",
    inventory: "inventory",
    intakeA: "orders",
    intakeB: "orders",
    worker: "orders",
  };
  const start = async (name: ProcessName) => {
    processes.set(name, await startChildServer(["service", SERVICE_OF[name]], envOf(name), ports[name]));
  };
  const url = (name: ProcessName) => `http://127.0.0.1:${ports[name]}`;

  beforeAll(async () => {
    if (!postgresUp) return;
    nats = await startNatsServer(natsServerBinary!, mkdtempSync(join(dir, "nats-")));
    redis = await startRedisServer(redisServerBinary!, mkdtempSync(join(dir, "redis-")));
    database = await createScratchPostgresDatabase();
    for (const name of ["catalog", "sales", "inventory", "intakeA", "intakeB", "worker"] as const) {
      ports[name] = await freePort();
    }
    const serviceUrls = [
      `catalog=${url("catalog")}`,
      `sales=${url("sales")}`,
      `inventory=${url("inventory")}`,
      // The inventory asks the orders service for its backlog: intake B is never killed.
      `orders=${url("intakeB")}`,
    ].join(",");
    const workerIds: Record<ProcessName, string> = {
      catalog: "1",
      sales: "2",
      inventory: "3",
      intakeA: "4",
      intakeB: "5",
      worker: "6",
    };
    envOf = (name) => ({
      FLOODGATE_DATA_DIR: join(dir, `data-${name}`),
      FLOODGATE_AUTH_SECRET: SECRET,
      FLOODGATE_DATABASE_URLS: database!.url,
      FLOODGATE_QUEUE_URL: nats!.url,
      FLOODGATE_STOCK_URL: redis!.url,
      FLOODGATE_SERVICE_URLS: serviceUrls,
      FLOODGATE_WORKER_ID: workerIds[name],
      FLOODGATE_SEED_DEMO: "false",
      FLOODGATE_LOG_LEVEL: "warn",
      FLOODGATE_RESERVATION_TTL_SECONDS: "5",
      FLOODGATE_ORDER_REDELIVERY_SECONDS: "5",
      ...(name === "worker" ? { FLOODGATE_ORDERS_ROLE: "worker", FLOODGATE_ORDER_WRITE_RATE: "300" } : {}),
      ...(name.startsWith("intake") ? { FLOODGATE_ORDERS_ROLE: "intake" } : {}),
    });
    await Promise.all((["catalog", "sales", "inventory"] as const).map(start));
    await Promise.all((["intakeA", "intakeB", "worker"] as const).map(start));
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...processes.values()].map((child) => child.kill("SIGKILL")));
    await nats?.kill();
    await redis?.kill();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it.skipIf(!postgresUp)(
    "loses nothing, oversells nothing, and Redis, JetStream and PostgreSQL agree afterwards",
    async () => {
      const pools = new Map<ProcessName, Pool>();
      const pool = (name: ProcessName) => {
        let found = pools.get(name);
        if (!found) {
          found = new Pool(url(name), { connections: 64 });
          pools.set(name, found);
        }
        return found;
      };
      const call = async (
        name: ProcessName,
        method: "GET" | "POST",
        path: string,
        authorization: string,
        body?: unknown,
        extra: Record<string, string> = {},
      ): Promise<Answer> => {
        const response = await pool(name).request({
          method,
          path,
          headers: {
            authorization,
            ...extra,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        return { status: response.statusCode, body: (await response.body.json()) as Answer["body"] };
      };

      expect(
        (
          await call("catalog", "POST", "/admin/products", ADMIN, {
            sku: SKU,
            name: "Fault test",
            priceCents: 500,
            currency: "EUR",
          })
        ).status,
      ).toBe(201);
      const sale = await call("sales", "POST", "/admin/sales", ADMIN, {
        sku: SKU,
        stock: STOCK,
        perUserLimit: 1,
        startsAt: new Date(Date.now() - 1000).toISOString(),
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      });
      expect(sale.status, JSON.stringify(sale.body)).toBe(201);

      const accepted = new Map<number, string>(); // buyer -> order id
      const refused = new Set<number>(); // definite 409s
      const unsettled = new Set<number>(); // connection lost, 503: the buyer retries later
      const unexpected: string[] = [];
      const buyOnce = async (buyer: number, via: ProcessName) => {
        try {
          const answer = await call(
            via,
            "POST",
            "/orders",
            `Bearer ${tokens.issue({ userId: `buyer-${buyer}` })}`,
            { sku: SKU, quantity: 1 },
            { "idempotency-key": `key-${buyer}` },
          );
          if (answer.status === 202) {
            const first = accepted.get(buyer);
            if (first !== undefined && first !== answer.body.orderId) {
              unexpected.push(`buyer ${buyer} got a second order id ${answer.body.orderId} after ${first}`);
            }
            accepted.set(buyer, answer.body.orderId!);
            unsettled.delete(buyer);
          } else if (answer.status === 409 && answer.body.error?.code === "sold_out") {
            refused.add(buyer);
            unsettled.delete(buyer);
          } else if (answer.status === 503) {
            unsettled.add(buyer);
          } else {
            unexpected.push(`buyer ${buyer}: ${answer.status} ${JSON.stringify(answer.body)}`);
          }
        } catch {
          unsettled.add(buyer); // the process died under the request: outcome unknown
        }
      };

      // Buyers arrive at a steady rate, alternating between the intakes (while A is down, all go to B).
      let arrivals = 0;
      let generating = true;
      const inFlight = new Set<Promise<void>>();
      const generator = (async () => {
        const startedAt = Date.now();
        while (generating && arrivals < MAX_BUYERS) {
          const due = startedAt + (arrivals * 1000) / ARRIVALS_PER_SECOND;
          if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
          const buyer = arrivals++;
          const via: ProcessName = buyer % 2 === 0 && processes.has("intakeA") ? "intakeA" : "intakeB";
          const request = buyOnce(buyer, via).finally(() => inFlight.delete(request));
          inFlight.add(request);
        }
      })();

      const faults: string[] = [];
      const when = async (acceptedAtLeast: number, what: string, act: () => Promise<void>) => {
        const deadline = Date.now() + 30_000;
        while (accepted.size < acceptedAtLeast && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        faults.push(`${what} at ${accepted.size} accepted`);
        await act();
      };
      const killProcess = async (name: ProcessName) => {
        const child = processes.get(name)!;
        processes.delete(name);
        await child.kill("SIGKILL");
        await pools.get(name)?.destroy();
        pools.delete(name);
      };

      await when(100, "kill -9 intake A", () => killProcess("intakeA"));
      await when(250, "kill -9 and restart NATS", async () => {
        await nats!.kill("SIGKILL");
        await new Promise((resolve) => setTimeout(resolve, 300));
        await nats!.restart();
      });
      await when(400, "kill -9 the worker", () => killProcess("worker"));
      await when(550, "kill -9 and restart Redis", async () => {
        await redis!.kill("SIGKILL");
        await new Promise((resolve) => setTimeout(resolve, 300));
        await redis!.restart();
      });
      await when(650, "restart the worker and intake A", async () => {
        await Promise.all([start("worker"), start("intakeA")]);
      });
      // Every fault hit a sale still in progress.
      expect(accepted.size, faults.join("; ")).toBeLessThan(STOCK);
      // Let the burst sell out, then stop sending new buyers.
      const sellOutBy = Date.now() + 60_000;
      while (refused.size < 50 && Date.now() < sellOutBy) await new Promise((r) => setTimeout(r, 50));
      generating = false;
      await generator;
      await Promise.all(inFlight);

      // Buyers with no definite answer retry with their key until they get one.
      const retryBy = Date.now() + 60_000;
      while (unsettled.size > 0 && Date.now() < retryBy) {
        await Promise.all(
          [...unsettled].map((buyer) => buyOnce(buyer, buyer % 2 === 0 ? "intakeA" : "intakeB")),
        );
        if (unsettled.size > 0) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect([...unsettled], "buyers without a definite answer").toEqual([]);
      expect(unexpected).toEqual([]);

      // Settle: the backlog drains, expired reservations (orders that never reached the queue) are
      // released. Nothing may stay reserved.
      let levels = { stock: 0, available: 0, reserved: -1, sold: 0 };
      const settleBy = Date.now() + 90_000;
      do {
        await new Promise((resolve) => setTimeout(resolve, 250));
        const answer = await call("sales", "GET", `/admin/sales/${SKU}`, ADMIN);
        levels = answer.body.levels as typeof levels;
      } while ((levels.reserved !== 0 || levels.sold !== accepted.size) && Date.now() < settleBy);

      const stored: { id: string; userId: string; status: string }[] = [];
      let cursor: string | null = null;
      do {
        const page = await call(
          "intakeB",
          "GET",
          `/admin/orders?limit=100${cursor ? `&cursor=${cursor}` : ""}`,
          ADMIN,
        );
        stored.push(...(page.body.items as typeof stored));
        cursor = page.body.nextCursor as string | null;
      } while (cursor);

      const context = `${faults.join("; ")}; accepted ${accepted.size}, levels ${JSON.stringify(levels)}`;
      const storedIds = stored.map((order) => order.id);
      expect(new Set(storedIds).size, `no order stored twice (${context})`).toBe(stored.length);
      // Every 202 exists exactly once, and every stored order was acknowledged to its buyer.
      expect([...storedIds].sort(), context).toEqual([...accepted.values()].sort());
      expect(
        stored.every((order) => order.status === "created"),
        context,
      ).toBe(true);
      // No oversell; Redis (the levels) agrees with the stored orders; nothing left reserved.
      expect(levels, context).toEqual({
        sku: SKU,
        stock: STOCK,
        available: STOCK - stored.length,
        reserved: 0,
        sold: stored.length,
      });
      expect(stored.length).toBeLessThanOrEqual(STOCK);
      // Redis against the database of record, row by row totals: no drift.
      const reconciliation = await call("sales", "GET", "/admin/stock/reconciliation", ADMIN);
      expect(reconciliation.body.drift, context).toEqual([]);
      // The worker process drains the queue only: it takes no orders.
      const atWorker = await call("worker", "POST", "/orders", `Bearer ${tokens.issue({ userId: "late" })}`, {
        sku: SKU,
        quantity: 1,
      });
      expect(atWorker.status).toBe(404);
      await Promise.all([...pools.values()].map((p) => p.close()));
    },
    300_000,
  );
});
