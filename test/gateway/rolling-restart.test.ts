import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/platform/config/load-config.js";
import { createLogger } from "../../src/platform/observability/logger.js";
import { type RunningGateway, runGateway } from "../../src/runtime/run-gateway.js";
import { type ChildServer, freePort, startChildServer } from "../support/child-server.js";
import { serverAvailable, servers } from "../support/infra.js";
import { deleteStreams } from "../support/nats-streams.js";
import { createScratchPostgresDatabase, type ScratchPostgresDatabase } from "../support/scratch-postgres.js";
import { bearer, SECRET } from "./gateway-fixture.js";

const infraUp = (await serverAvailable("postgres")) && (await serverAvailable("nats"));
const STOCK = 100_000;

/**
 * A rolling restart through the gateway: two intakes behind it, each restarted in turn (SIGTERM,
 * wait for the exit, start again) while buyers keep ordering. The intake drains (not ready, still
 * serving) long enough for the gateway's health checks to move away, and the gateway sends
 * anything a stopping intake refused to the other one: no buyer sees a 5xx.
 */
describe.skipIf(!infraUp)("rolling restart of the intakes behind the gateway", () => {
  const dir = mkdtempSync(join(tmpdir(), "floodgate-rolling-"));
  const queuePrefix = `fgroll${Date.now().toString(36)}`;
  let database: ScratchPostgresDatabase;
  const children = new Map<string, ChildServer>();
  const ports: Record<string, number> = {};
  let gateway: RunningGateway;
  let envOf: (name: string) => Record<string, string>;

  const start = async (name: string, args: string[]) => {
    children.set(name, await startChildServer(args, envOf(name), ports[name]!));
  };

  beforeAll(async () => {
    database = await createScratchPostgresDatabase();
    for (const name of ["back", "intakeA", "intakeB", "worker"]) ports[name] = await freePort();
    const at = (name: string) => `http://127.0.0.1:${ports[name]}`;
    const serviceUrls = `catalog=${at("back")},inventory=${at("back")},sales=${at("back")},orders=${at("intakeA")}|${at("intakeB")}`;
    const workerIds: Record<string, string> = { back: "21", intakeA: "22", intakeB: "23", worker: "24" };
    envOf = (name) => ({
      FLOODGATE_DATA_DIR: join(dir, name),
      FLOODGATE_AUTH_SECRET: SECRET,
      FLOODGATE_DATABASE_URLS: database.url,
      FLOODGATE_QUEUE_URL: servers.nats.url,
      FLOODGATE_QUEUE_PREFIX: queuePrefix,
      FLOODGATE_SERVICE_URLS: serviceUrls,
      FLOODGATE_WORKER_ID: workerIds[name]!,
      FLOODGATE_SEED_DEMO: "false",
      FLOODGATE_LOG_LEVEL: "warn",
      // Longer than the gateway's health interval (200 ms below), with room for a loaded machine.
      FLOODGATE_SHUTDOWN_DRAIN_MS: "1500",
      ...(name === "back" ? { FLOODGATE_SERVICES: "catalog,inventory,sales" } : {}),
      ...(name.startsWith("intake") ? { FLOODGATE_ORDERS_ROLE: "intake" } : {}),
      ...(name === "worker" ? { FLOODGATE_ORDERS_ROLE: "worker" } : {}),
    });
    await start("back", ["start"]);
    await Promise.all([
      start("intakeA", ["service", "orders"]),
      start("intakeB", ["service", "orders"]),
      start("worker", ["service", "orders"]),
    ]);
    const config = loadConfig({
      env: {},
      overrides: {
        port: "0",
        authSecret: SECRET,
        serviceUrls,
        logLevel: "silent",
        gatewayHealthIntervalMs: "200",
        gatewayUserRate: "0",
        gatewayIpRate: "0",
      },
    });
    gateway = await runGateway(config, createLogger("silent"));
  }, 180_000);

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([...children.values()].map((child) => child.kill("SIGKILL")));
    await database?.drop();
    await deleteStreams(servers.nats.url, `${queuePrefix.toUpperCase()}_`).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers every buyer without a 5xx while each intake restarts in turn", async () => {
    const admin = bearer("ops", true);
    const pool = new Pool(gateway.url, { connections: 32 });
    const call = async (method: string, path: string, authorization: string, body?: unknown) => {
      const response = await pool.request({
        method: method as "POST",
        path,
        headers: { authorization, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.statusCode, body: await response.body.text() };
    };
    expect(
      (
        await call("POST", "/admin/products", admin, {
          sku: "ROLL-1",
          name: "R",
          priceCents: 1,
          currency: "EUR",
        })
      ).status,
    ).toBe(201);
    const sale = await call("POST", "/admin/sales", admin, {
      sku: "ROLL-1",
      stock: STOCK,
      perUserLimit: 1,
      startsAt: new Date(Date.now() - 1000).toISOString(),
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(sale.status).toBe(201);

    const statuses = new Map<number, number>();
    const failures: string[] = [];
    let buyer = 0;
    let stop = false;
    const buyers = Array.from({ length: 16 }, async () => {
      while (!stop) {
        const id = buyer++;
        const answer = await call("POST", "/orders", bearer(`roll-${id}`), {
          sku: "ROLL-1",
          quantity: 1,
        }).catch((error: Error) => ({ status: 0, body: error.message }));
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        if (answer.status >= 500 || answer.status === 0) failures.push(`${answer.status} ${answer.body}`);
      }
    });
    const restart = async (name: string) => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await children.get(name)!.kill("SIGTERM");
      await start(name, ["service", "orders"]);
    };
    await restart("intakeA");
    await restart("intakeB");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    stop = true;
    await Promise.all(buyers);
    await pool.close();

    expect(failures.slice(0, 5)).toEqual([]);
    expect(statuses.get(202) ?? 0).toBeGreaterThan(100);
  }, 180_000);
});
