import { afterEach, describe, expect, it } from "vitest";
import { NOT_READY_HEADER } from "../../src/platform/http/server.js";
import {
  bearer,
  eventually,
  type StubInstance,
  startStub,
  startTestGateway,
  type TestGateway,
} from "./gateway-fixture.js";

const USER = { authorization: bearer("alice") };
/** Limits far above what these tests send, so only the test that is about them meets them. */
const NO_LIMITS = { gatewayUserRate: "0", gatewayIpRate: "0" };

describe("gateway: routing, balancing and failure handling", () => {
  const stubs: StubInstance[] = [];
  let gateway: TestGateway | undefined;
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
    await Promise.all(stubs.splice(0).map((stub) => stub.close()));
  });
  const stub = async (name: string) => {
    const started = await startStub(name);
    stubs.push(started);
    return started;
  };

  it("routes each public path to its service and passes method, path, query and body on", async () => {
    const [catalog, orders] = [await stub("catalog"), await stub("orders")];
    gateway = await startTestGateway(`catalog=${catalog.url},orders=${orders.url}`, NO_LIMITS);
    expect(JSON.parse((await gateway.request("GET", "/products?limit=2")).body)).toEqual({ from: "catalog" });
    const placed = await gateway.request("POST", "/orders", {
      headers: { ...USER, "content-type": "application/json", "idempotency-key": "k1" },
      body: '{"sku":"A","quantity":1}',
    });
    expect(JSON.parse(placed.body)).toEqual({ from: "orders" });
    expect(catalog.received.map((r) => r.url)).toEqual(["/products?limit=2"]);
    expect(orders.received[0]).toMatchObject({ method: "POST", url: "/orders" });
    expect(orders.received[0]!.headers["idempotency-key"]).toBe("k1");
    expect(orders.received[0]!.headers["x-forwarded-for"]).toBe("127.0.0.1");
  });

  it("never lets /internal/* through, however it is spelled", async () => {
    const orders = await stub("orders");
    gateway = await startTestGateway(`orders=${orders.url}`, NO_LIMITS);
    const service = {
      authorization: `Bearer ${(await import("./gateway-fixture.js")).tokens.issue({ userId: "svc", service: true })}`,
    };
    for (const path of [
      "/internal/orders/backlog",
      "/internal/orders/backlog?x=1",
      "//internal/orders/backlog",
      "/%69nternal/orders/backlog",
      "/INTERNAL/orders/backlog",
      "/orders/../internal/orders/backlog",
      "/orders/%2e%2e/internal/orders/backlog",
      "/orders/..%2finternal%2forders%2fbacklog",
      "/orders/./../internal/orders/backlog",
      "/orders%2f..%2finternal/orders/backlog",
    ]) {
      const answer = await gateway.request("POST", path, { headers: service, body: "{}" });
      expect(answer.status, path).toBe(404);
    }
    expect(orders.received).toEqual([]);
  });

  it("verifies tokens at the edge: none, forged, or not an admin never reach a service", async () => {
    const [catalog, orders] = [await stub("catalog"), await stub("orders")];
    gateway = await startTestGateway(`catalog=${catalog.url},orders=${orders.url}`, NO_LIMITS);
    expect((await gateway.request("POST", "/orders", { body: "{}" })).status).toBe(401);
    const forged = `${bearer("mallory").slice(0, -4)}AAAA`;
    expect((await gateway.request("GET", "/products", { headers: { authorization: forged } })).status).toBe(
      401,
    );
    expect((await gateway.request("POST", "/admin/products", { headers: USER, body: "{}" })).status).toBe(
      403,
    );
    expect(catalog.received).toEqual([]);
    expect(orders.received).toEqual([]);
    const admin = await gateway.request("POST", "/admin/products", {
      headers: { authorization: bearer("ops", true), "content-type": "application/json" },
      body: "{}",
    });
    expect(admin.status).toBe(200);
  });

  it("refuses a body over the limit with 413 before any service sees it", async () => {
    const orders = await stub("orders");
    gateway = await startTestGateway(`orders=${orders.url}`, { ...NO_LIMITS, bodyLimitBytes: "1024" });
    const answer = await gateway.request("POST", "/orders", {
      headers: { ...USER, "content-type": "application/json" },
      body: JSON.stringify({ sku: "x".repeat(2000), quantity: 1 }),
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body).error.code).toBe("payload_too_large");
    expect(orders.received).toEqual([]);
  });

  it("balances over every ready instance and skips one that is not ready", async () => {
    const [a, b, c] = [await stub("a"), await stub("b"), await stub("c")];
    c.ready = false;
    gateway = await startTestGateway(`catalog=${a.url}|${b.url}|${c.url}`, NO_LIMITS);
    for (let i = 0; i < 40; i++) expect((await gateway.request("GET", "/products")).status).toBe(200);
    expect(a.received.length).toBeGreaterThanOrEqual(10);
    expect(b.received.length).toBeGreaterThanOrEqual(10);
    expect(c.received).toHaveLength(0);
    c.ready = true;
    await eventually(async () => {
      await gateway!.request("GET", "/products");
      expect(c.received.length).toBeGreaterThan(0);
    });
  });

  it("retries a failed GET on another instance, never a POST", async () => {
    const [a, b] = [await stub("a"), await stub("b")];
    const failing = (_request: unknown, response: import("node:http").ServerResponse) => {
      response.writeHead(502, { "content-type": "application/json" });
      response.end('{"error":{"code":"dependency_failed","message":"boom"}}');
    };
    a.behaviour = failing;
    b.behaviour = failing;
    gateway = await startTestGateway(`orders=${a.url}|${b.url}`, NO_LIMITS);
    const get = await gateway.request("GET", "/orders/123", { headers: USER });
    expect(get.status).toBe(502);
    expect(a.received.length + b.received.length).toBe(2);
    const post = await gateway.request("POST", "/orders", {
      headers: { ...USER, "content-type": "application/json" },
      body: "{}",
    });
    expect(post.status).toBe(502);
    expect(
      a.received.filter((r) => r.method === "POST").length +
        b.received.filter((r) => r.method === "POST").length,
    ).toBe(1);
    // A healthy second instance turns the GET's failure into a success.
    b.behaviour = (await import("./gateway-fixture.js")).answerOk("b");
    for (let i = 0; i < 4; i++)
      expect((await gateway.request("GET", "/orders/123", { headers: USER })).status).toBe(200);
  });

  it("sends any request to another instance when one answers that it is draining", async () => {
    const [a, b] = [await stub("a"), await stub("b")];
    a.behaviour = (_request, response) => {
      response.writeHead(503, {
        [NOT_READY_HEADER]: "1",
        "content-type": "application/json",
        "retry-after": "1",
      });
      response.end('{"error":{"code":"unavailable","message":"draining"}}');
    };
    gateway = await startTestGateway(`orders=${a.url}|${b.url}`, NO_LIMITS);
    for (let i = 0; i < 6; i++) {
      const answer = await gateway.request("POST", "/orders", {
        headers: { ...USER, "content-type": "application/json" },
        body: "{}",
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toEqual({ from: "b" });
    }
    expect(b.received).toHaveLength(6);
  });

  it("opens a breaker on an instance that keeps failing, and sends it nothing while open", async () => {
    const [a, b] = [await stub("a"), await stub("b")];
    a.behaviour = (_request, response) => response.writeHead(500).end("{}");
    gateway = await startTestGateway(`catalog=${a.url}|${b.url}`, {
      ...NO_LIMITS,
      gatewayBreakerFailures: "3",
      gatewayBreakerOpenMs: "60000",
      gatewayGetRetries: "0",
    });
    for (let i = 0; i < 30; i++) await gateway.request("GET", "/products");
    expect(a.received).toHaveLength(3);
    expect(b.received).toHaveLength(27);
  });

  it("answers 504 when the instance does not answer in time", async () => {
    const a = await stub("a");
    a.behaviour = () => {};
    gateway = await startTestGateway(`orders=${a.url}`, { ...NO_LIMITS, gatewayUpstreamTimeoutMs: "300" });
    const answer = await gateway.request("POST", "/orders", {
      headers: { ...USER, "content-type": "application/json" },
      body: "{}",
    });
    expect(answer.status).toBe(504);
    expect(JSON.parse(answer.body).error.code).toBe("dependency_timeout");
  });

  it("answers 503 with Retry-After when no instance of the service is ready", async () => {
    const a = await stub("a");
    a.ready = false;
    gateway = await startTestGateway(`catalog=${a.url}`, NO_LIMITS);
    const answer = await gateway.request("GET", "/products");
    expect(answer.status).toBe(503);
    expect(answer.headers["retry-after"]).toBe("1");
  });
});
