import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { matchPublicRoute, PUBLIC_ROUTES } from "../../src/gateway/public-routes.js";
import { SERVICE_NAMES, type ServiceName } from "../../src/platform/config/settings.js";
import { serverAvailable, servers } from "../support/infra.js";
import { deleteStreams } from "../support/nats-streams.js";
import { startTestServer } from "../support/test-server.js";

const natsUp = await serverAvailable("nats");

/**
 * Every route each Fastify server of a Floodgate process gets, recorded as it is registered: the
 * processes below are real (runServices), only their servers are watched.
 */
const { routesOf } = vi.hoisted(() => ({
  routesOf: new WeakMap<object, { method: string; url: string }[]>(),
}));

vi.mock("../../src/platform/http/server.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/platform/http/server.js")>();
  return {
    ...original,
    createHttpServer: (...args: Parameters<typeof original.createHttpServer>) => {
      const app = original.createHttpServer(...args);
      const routes: { method: string; url: string }[] = [];
      routesOf.set(app, routes);
      app.addHook("onRoute", (route) => {
        const methods = Array.isArray(route.method) ? route.method : [route.method];
        for (const method of methods) routes.push({ method: String(method), url: route.url });
      });
      return app;
    },
  };
});

const key = (method: string, url: string) => `${method} ${url}`;

/** A path the route's pattern must accept: each `:param` becomes an id-like segment. */
const concrete = (url: string) => url.replace(/:[A-Za-z]+/g, "1234567890");

/**
 * One process per service, as deployed (`floodgate service <name>`; a process hosting some of the
 * services needs a shared queue, hence NATS), in development so that its `/internal/*` routes are
 * on the same server and the test can check the gateway never routes them.
 */
describe.skipIf(!natsUp)("gateway: the routing table against the routes the services register", () => {
  const queuePrefix = `fgroutes${Date.now().toString(36)}`;
  // The others' addresses, which nothing here calls: a service's clients are made at its start.
  const serviceUrls = SERVICE_NAMES.map((name) => `${name}=http://127.0.0.1:9`).join(",");
  const registered = new Map<ServiceName, Set<string>>();
  /** Routes every process registers whatever it hosts (dashboard, telemetry, queue admin). */
  let processLevel = new Set<string>();

  beforeAll(async () => {
    for (const name of SERVICE_NAMES) {
      const server = await startTestServer({
        services: name,
        serviceUrls,
        queueUrl: servers.nats.url,
        queuePrefix,
      });
      try {
        const routes = routesOf.get(server.running.app as FastifyInstance);
        if (!routes) throw new Error(`the ${name} process's server was not watched`);
        registered.set(name, new Set(routes.map((r) => key(r.method, r.url))));
      } finally {
        await server.close();
      }
    }
    const sets = [...registered.values()];
    processLevel = new Set([...sets[0]!].filter((route) => sets.every((set) => set.has(route))));
  }, 300_000);

  afterAll(async () => {
    if (natsUp) await deleteStreams(servers.nats.url, `${queuePrefix.toUpperCase()}_`);
  });

  it("routes every public route a service registers to that service, and never /internal/*", () => {
    const wrong: string[] = [];
    for (const [service, routes] of registered) {
      for (const route of routes) {
        if (processLevel.has(route)) continue;
        const [method, url] = route.split(" ") as [string, string];
        const match = matchPublicRoute(method, concrete(url));
        if (url.startsWith("/internal/")) {
          if (match.kind !== "none") wrong.push(`${route} (${service}) is routed: internal routes never are`);
          continue;
        }
        if (match.kind !== "route") wrong.push(`${route} (${service}) has no gateway row`);
        else if (match.route.service !== service || match.route.name !== url)
          wrong.push(`${route} (${service}) is routed to ${match.route.service} as ${match.route.name}`);
      }
    }
    expect(wrong).toEqual([]);
    // The comparison saw the services' routes, not an empty recording.
    expect(registered.get("orders")).toContain("POST /admin/orders/:id/refund");
    expect(registered.get("payments")).toContain("POST /webhooks/payments");
  });

  it("routes the admin routes every process serves (its queue's) to a service, never the rest", () => {
    const wrong: string[] = [];
    for (const route of processLevel) {
      const [method, url] = route.split(" ") as [string, string];
      const match = matchPublicRoute(method, concrete(url));
      // /admin/* is the admin API; health, metrics and the dashboard are each process's own.
      const routed = match.kind === "route";
      if (routed !== url.startsWith("/admin/")) wrong.push(`${route}: ${routed ? "routed" : "not routed"}`);
    }
    expect(wrong).toEqual([]);
  });

  it("has no row a service does not register: each row's service answers its path and methods", () => {
    const wrong: string[] = [];
    for (const row of PUBLIC_ROUTES) {
      const routes = registered.get(row.service as ServiceName);
      if (!routes) {
        wrong.push(`${row.name}: no service ${row.service}`);
        continue;
      }
      for (const method of row.methods) {
        if (!routes.has(key(method, row.name))) wrong.push(`${method} ${row.name}: ${row.service} does not`);
      }
      if (row.name.startsWith("/internal")) wrong.push(`${row.name}: internal`);
    }
    expect(wrong).toEqual([]);
  });
});
