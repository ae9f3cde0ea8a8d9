import { describe, expect, it } from "vitest";
import { Workload, type WorkloadSpec } from "../../src/bench/workload.js";
import { TokenService } from "../../src/platform/auth/tokens.js";

const SECRET = "workload-test-secret-at-least-32-characters";
const tokens = new TokenService(SECRET);

function spec(overrides: Partial<WorkloadSpec>): WorkloadSpec {
  return {
    scenario: "flash-sale",
    authSecret: SECRET,
    seed: 1,
    runTag: "t1",
    users: 1000,
    userPrefix: "buyer",
    sku: "FLASH-1",
    productIds: [],
    zipfExponent: 1.1,
    mix: { browse: 0.8, order: 0.1, poll: 0.1 },
    ...overrides,
  };
}

describe("Workload", () => {
  it("flash-sale: each request is a different buyer with its own token and Idempotency-Key", () => {
    const workload = new Workload(spec({ users: 50 }));
    workload.prepare(50);
    const requests = Array.from({ length: 50 }, () => workload.next());
    expect(requests.every((r) => r.method === "POST" && r.path === "/orders")).toBe(true);
    expect(JSON.parse(requests[0]!.body!)).toEqual({ sku: "FLASH-1", quantity: 1 });
    const users = requests.map((r) => tokens.authenticate(r.headers.authorization).userId);
    expect(new Set(users).size).toBe(50);
    expect(users[7]).toBe("buyer-7");
    expect(new Set(requests.map((r) => r.headers["idempotency-key"])).size).toBe(50);
  });

  it("flash-sale: past --users the same buyers come back with the same key (a retry)", () => {
    const workload = new Workload(spec({ users: 3 }));
    const keys = Array.from({ length: 6 }, () => workload.next().headers["idempotency-key"]);
    expect(keys.slice(3)).toEqual(keys.slice(0, 3));
  });

  it("catalog-read: anonymous reads of the seeded ids, the most popular most often", () => {
    const productIds = Array.from({ length: 100 }, (_, i) => `${1000 + i}`);
    const workload = new Workload(spec({ scenario: "catalog-read", productIds }));
    const paths = Array.from({ length: 5000 }, () => workload.next());
    expect(paths.every((r) => r.method === "GET" && r.headers.authorization === undefined)).toBe(true);
    const count = (id: string) => paths.filter((r) => r.path === `/products/${id}`).length;
    expect(count("1000")).toBeGreaterThan(count("1001"));
    expect(count("1001")).toBeGreaterThan(count("1050"));
    expect(paths.every((r) => productIds.includes(r.path.slice("/products/".length)))).toBe(true);
  });

  it("mixed: keeps the proportions, and polls orders it saw accepted, as their owner", () => {
    const workload = new Workload(spec({ scenario: "mixed", productIds: ["1", "2", "3"], users: 10 }));
    const kinds = { browse: 0, order: 0, poll: 0 };
    let polledAccepted = 0;
    for (let i = 0; i < 10_000; i++) {
      const request = workload.next();
      kinds[request.kind]++;
      if (request.kind === "order")
        workload.observe(request, 202, `{"orderId":"${9000 + i}","status":"pending"}`);
      if (request.kind === "poll" && request.path.startsWith("/orders/")) {
        polledAccepted++;
        const owner = tokens.authenticate(request.headers.authorization).userId;
        expect(owner).toMatch(/^buyer-\d$/);
      }
    }
    expect(kinds.browse / 10_000).toBeCloseTo(0.8, 1);
    expect(kinds.order / 10_000).toBeCloseTo(0.1, 1);
    expect(kinds.poll / 10_000).toBeCloseTo(0.1, 1);
    expect(polledAccepted).toBeGreaterThan(0);
    expect(workload.acceptedOrderIds()).toHaveLength(kinds.order);
  });

  it("remembers only accepted orders' ids", () => {
    const workload = new Workload(spec({}));
    const request = workload.next();
    workload.observe(request, 409, '{"error":{"code":"sold_out"}}');
    workload.observe(request, 202, "not json");
    workload.observe(request, 202, '{"orderId":"42"}');
    expect(workload.acceptedOrderIds()).toEqual(["42"]);
  });

  it("is the same sequence for the same seed", () => {
    const productIds = Array.from({ length: 20 }, (_, i) => String(i));
    const a = new Workload(spec({ scenario: "mixed", productIds }));
    const b = new Workload(spec({ scenario: "mixed", productIds }));
    const pathsOf = (w: Workload) => Array.from({ length: 200 }, () => `${w.next().kind} ${w.next().path}`);
    expect(pathsOf(a)).toEqual(pathsOf(b));
  });
});
