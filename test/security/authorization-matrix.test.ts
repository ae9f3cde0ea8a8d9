import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSigner } from "fast-jwt";
import type { FastifyInstance } from "fastify";
import { Pool } from "undici";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { PUBLIC_ROUTES } from "../../src/gateway/public-routes.js";
import { keyIdOf } from "../../src/platform/auth/tokens.js";
import {
  type RunningPaymentSimulator,
  startPaymentSimulator,
} from "../../src/platform/payments/simulator/simulator-server.js";
import { eventually, openSale, startTestServer, type TestServer } from "../support/test-server.js";
import {
  ADMIN,
  AUTHORIZATION_MATRIX,
  CREDENTIALS,
  type Credential,
  type Fixtures,
  type MatrixRow,
  OTHER_USER,
  OWNER,
  routeKey,
} from "./authorization-matrix.js";

/**
 * Every Fastify server created in this test, with every route registered on it (the hook is added
 * at creation, before the probes each Floodgate server registers first).
 */
const { servers } = vi.hoisted(() => ({
  servers: [] as { app: object; routes: { method: string; url: string }[] }[],
}));

vi.mock("fastify", async (importOriginal) => {
  const original = await importOriginal<typeof import("fastify")>();
  const create = original.default as unknown as (...args: unknown[]) => FastifyInstance;
  const recording = ((...args: unknown[]) => {
    const app = create(...args);
    const routes: { method: string; url: string }[] = [];
    servers.push({ app, routes });
    app.addHook("onRoute", (route: { method: string | string[]; url: string }) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) routes.push({ method: String(method), url: route.url });
    });
    return app;
  }) as typeof original.default;
  return { ...original, default: recording, fastify: recording };
});

const SECRET = "matrix-auth-secret-".repeat(3);
const WEBHOOK_SECRET = "matrix-webhook-secret-of-32-chars-or-more";
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

/**
 * The eight credentials. The bad ones name the server's key id and claim everything (admin and
 * service), so a verifier that trusted any part of them would let them through somewhere.
 */
function credentialsFor(server: TestServer): Record<Credential, string | undefined> {
  const tokens = server.running.platform.tokens;
  const kid = keyIdOf(SECRET);
  const everything = { sub: ADMIN, admin: true, svc: true };
  return {
    none: undefined,
    expired: `Bearer ${createSigner({ key: SECRET, algorithm: "HS256", kid })({ sub: OWNER, iat: now() - 7200, exp: now() - 3600 })}`,
    forged: `Bearer ${createSigner({ key: "not-the-server-secret-".repeat(2), algorithm: "HS256", kid })({ ...everything, exp: now() + 600 })}`,
    algNone: `Bearer ${b64({ alg: "none", typ: "JWT", kid })}.${b64({ ...everything, exp: now() + 600 })}.`,
    service: `Bearer ${tokens.issue({ userId: "floodgate-service", service: true })}`,
    otherUser: server.bearer(OTHER_USER),
    admin: server.bearer(ADMIN, true),
    user: server.bearer(OWNER),
  };
}

describe("authorization matrix: every route × 8 credentials", () => {
  let simulator: RunningPaymentSimulator;
  let server: TestServer;
  let internal: Pool;
  let pub: Pool;
  let fixtures: Fixtures;
  let credentials: Record<Credential, string | undefined>;
  const registered = { public: new Set<string>(), internal: new Set<string>() };
  const simulatorDir = mkdtempSync(join(tmpdir(), "floodgate-matrix-sim-"));

  beforeAll(async () => {
    simulator = await startPaymentSimulator({
      secret: WEBHOOK_SECRET,
      host: "127.0.0.1",
      port: 0,
      stateDir: simulatorDir,
    });
    // Development (the simulator stands in for a provider), with its own internal listener: the
    // same split production makes.
    server = await startTestServer({
      env: "development",
      authSecret: SECRET,
      internalPort: "0",
      paymentProviderUrl: simulator.url,
      paymentWebhookSecret: WEBHOOK_SECRET,
    });
    const internalPort = Number(new URL(server.running.internalUrl!).port);
    for (const { app, routes } of servers) {
      const address = (app as FastifyInstance).server.address();
      const port = typeof address === "object" && address ? address.port : undefined;
      // The simulator's server is recorded too: only Floodgate's two listeners count.
      const listener = app === server.running.app ? "public" : port === internalPort ? "internal" : undefined;
      if (!listener) continue;
      for (const r of routes) registered[listener].add(routeKey(listener, r.method, r.url));
    }
    const timeouts = { headersTimeout: 10_000, bodyTimeout: 10_000 };
    pub = new Pool(server.url, { connections: 8, ...timeouts });
    internal = new Pool(server.running.internalUrl!, { connections: 8, ...timeouts });
    credentials = credentialsFor(server);

    const tag = Date.now().toString(36).toUpperCase();
    const sku = `MX-${tag}`;
    await openSale(server, { sku, stock: 1000, perUserLimit: 100 });
    const changedSku = `MX-${tag}-C`;
    await openSale(server, { sku: changedSku, stock: 10, perUserLimit: 1 });
    const unsoldSku = `MX-${tag}-U`;
    const unsold = await server.request("POST", "/admin/products", {
      user: ADMIN,
      admin: true,
      body: { sku: unsoldSku, name: "Unsold", priceCents: 100, currency: "EUR" },
    });
    expect(unsold.status).toBe(201);
    const products = await server.request<{ items: { id: string; sku: string }[] }>(
      "GET",
      "/products?limit=100",
    );
    const productId = products.body.items.find((p) => p.sku === sku)!.id;
    const createdOrder = async () => {
      const placed = await server.request<{ orderId: string }>("POST", "/orders", {
        user: OWNER,
        body: { sku, quantity: 1 },
      });
      expect(placed.status).toBe(202);
      const { orderId } = placed.body;
      await eventually(
        async () =>
          (await server.request<{ status: string }>("GET", `/orders/${orderId}`, { user: OWNER })).body
            .status === "created",
        30_000,
        `order ${orderId} stored`,
      );
      return orderId;
    };
    const assets = readdirSync(join(process.cwd(), "dashboard", "dist", "assets"));
    fixtures = {
      sku,
      productId,
      unsoldSku,
      changedSku,
      newSku: `MX-${tag}-N`,
      orderId: await createdOrder(),
      payableOrderId: await createdOrder(),
      dashboardAsset: assets.find((name) => name.endsWith(".js"))!,
    };
  }, 120_000);

  afterAll(async () => {
    await pub?.destroy();
    await internal?.destroy();
    await server?.close();
    await simulator?.close();
    rmSync(simulatorDir, { recursive: true, force: true });
  });

  /** The status only: streams (the dashboard's events) are cut once their head is in. */
  const statusOf = async (
    pool: Pool,
    method: string,
    request: { path: string; body?: unknown },
    authorization: string | undefined,
  ): Promise<number> => {
    const headers: Record<string, string> = {};
    if (authorization) headers.authorization = authorization;
    if (request.body !== undefined) headers["content-type"] = "application/json";
    const abort = new AbortController();
    const response = await pool.request({
      method: method as "GET",
      path: request.path,
      headers,
      signal: abort.signal,
      ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
    });
    if (String(response.headers["content-type"]).startsWith("text/event-stream")) abort.abort();
    else await response.body.dump();
    return response.statusCode;
  };

  const poolOf = (row: MatrixRow) => (row.listener === "public" ? pub : internal);

  it("has exactly one row per registered route, on each listener (a GET row covers its HEAD)", () => {
    const rows = new Set<string>();
    const duplicates: string[] = [];
    for (const row of AUTHORIZATION_MATRIX) {
      const key = routeKey(row.listener, row.method, row.route);
      if (rows.has(key)) duplicates.push(key);
      rows.add(key);
      if (row.method === "GET") rows.add(routeKey(row.listener, "HEAD", row.route));
    }
    const registeredRoutes = new Set([...registered.public, ...registered.internal]);
    expect(duplicates).toEqual([]);
    expect(
      [...registeredRoutes].filter((route) => !rows.has(route)),
      "routes without a row",
    ).toEqual([]);
    expect(
      [...rows].filter((route) => !registeredRoutes.has(route)),
      "rows without a route",
    ).toEqual([]);
    // The recording saw both servers, not an empty list.
    expect(registered.public.size).toBeGreaterThan(30);
    expect(registered.internal).toContain(routeKey("internal", "POST", "/internal/orders/backlog"));
  });

  it("agrees with the gateway's table on who may call each public route", () => {
    const wrong: string[] = [];
    for (const route of PUBLIC_ROUTES) {
      for (const method of route.methods) {
        const lookup = method === "HEAD" ? "GET" : method;
        const row = AUTHORIZATION_MATRIX.find(
          (r) => r.listener === "public" && r.method === lookup && r.route === route.name,
        );
        const access = row?.access === "owner" ? "user" : row?.access;
        if (access !== route.access)
          wrong.push(`${method} ${route.name}: gateway ${route.access}, matrix ${access}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("answers every route with its expected status for each credential", async () => {
    const wrong: string[] = [];
    let cells = 0;
    for (const row of AUTHORIZATION_MATRIX) {
      const request = row.request(fixtures);
      const methods = row.method === "GET" && !row.headNotCalled ? ["GET", "HEAD"] : [row.method];
      for (const method of methods) {
        for (const credential of CREDENTIALS) {
          const status = await statusOf(poolOf(row), method, request, credentials[credential]);
          cells++;
          if (status !== row.expect[credential])
            wrong.push(
              `${row.listener} ${method} ${request.path} as ${credential}: ${status}, expected ${row.expect[credential]}`,
            );
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(cells).toBeGreaterThan(400);
  });

  it("serves no /internal/* route on the public port, whatever the credential", async () => {
    const wrong: string[] = [];
    for (const row of AUTHORIZATION_MATRIX.filter((r) => r.access === "service")) {
      for (const credential of CREDENTIALS) {
        const status = await statusOf(pub, row.method, row.request(fixtures), credentials[credential]);
        if (status !== 404) wrong.push(`public ${row.method} ${row.route} as ${credential}: ${status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("shows another user none of the owner's orders", async () => {
    const theirs = await server.request<{ items: { id: string }[] }>("GET", "/me/orders", {
      user: OTHER_USER,
    });
    const ids = theirs.body.items.map((order) => order.id);
    expect(ids).not.toContain(fixtures.orderId);
    expect(ids).not.toContain(fixtures.payableOrderId);
  });
});
