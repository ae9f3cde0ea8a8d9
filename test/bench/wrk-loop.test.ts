// The bench's wrk driver against a local node:http server: exactly the requests the workload
// plans, the answers wrk-driver.lua collects, and requests with no answer counted at the deadline.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { GeneratorJob } from "../../src/bench/generator/messages.js";
import { wrkAvailable } from "../../src/bench/generator/wrk-available.js";
import { rawRequest, runWrkLoop } from "../../src/bench/generator/wrk-loop.js";
import { BenchOptionError, resolveGenerator } from "../../src/bench/options.js";
import { Workload, type WorkloadSpec } from "../../src/bench/workload.js";
import { infraRequired } from "../support/infra.js";

const hasWrk = wrkAvailable();
if (!hasWrk && infraRequired) throw new Error("wrk is not installed and FLOODGATE_REQUIRE_INFRA=1");

const SPEC: WorkloadSpec = {
  scenario: "flash-sale",
  authSecret: "wrk-loop-test-secret-at-least-32-characters",
  seed: 1,
  runTag: "w",
  users: 300,
  userPrefix: "buyer",
  sku: "FLASH-W",
  productIds: [],
  zipfExponent: 1.1,
  mix: { browse: 0, order: 1, poll: 0 },
};

function job(url: string, count: number, requestTimeoutMs = 10_000): GeneratorJob {
  return {
    generator: "wrk",
    url,
    model: { kind: "closed", connections: 20 },
    length: { kind: "requests", count },
    workload: SPEC,
    requestTimeoutMs,
    deadlineMs: 60_000,
  };
}

let server: ReturnType<typeof createServer> | undefined;
afterEach(async () => {
  const running = server;
  server = undefined;
  if (!running) return;
  running.closeAllConnections();
  await new Promise((resolve) => running.close(resolve));
});

async function serve(handler: (request: IncomingMessage, body: string, response: ServerResponse) => void) {
  server = createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      body += chunk;
    });
    request.on("end", () => handler(request, body, response));
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe.skipIf(!hasWrk)("wrk driver", () => {
  it("sends each planned request exactly once, and collects statuses, error codes and order ids", async () => {
    const keys: string[] = [];
    let sequence = 0;
    const url = await serve((request, body, response) => {
      keys.push(String(request.headers["idempotency-key"]));
      expect(JSON.parse(body)).toEqual({ sku: "FLASH-W", quantity: 1 });
      expect(request.headers.authorization).toMatch(/^Bearer /);
      sequence += 1;
      if (sequence % 3 === 0) {
        response.writeHead(409, { "content-type": "application/json" });
        response.end('{"error":{"code":"sold_out","message":"gone"}}');
      } else {
        response.writeHead(202, { "content-type": "application/json" });
        response.end(JSON.stringify({ orderId: `9${sequence}`, status: "pending" }));
      }
    });
    const result = await runWrkLoop(job(url, 300), new Workload(SPEC));
    expect(result.generator).toBe("wrk");
    expect(result.sent).toBe(300);
    expect(result.completed).toBe(300);
    // One request per buyer, none skipped and none twice.
    expect(new Set(keys).size).toBe(300);
    expect(keys.length).toBe(300);
    expect(result.statusCounts).toEqual({ "202": 200, "409": 100 });
    expect(result.errorCodes).toEqual({ sold_out: 100 });
    expect(new Set(result.acceptedOrderIds).size).toBe(200);
    expect(result.transportErrors).toEqual({});
    expect(result.latencyMs.count).toBe(300);
    expect(result.latencyMs.p99).toBeLessThan(10_000);
    expect(result.truncated).toBe(false);
    expect(result.cpu.processTotalMs).toBeGreaterThanOrEqual(0);
  }, 60_000);

  it("counts a request that gets no answer as a timeout, at the deadline in the percentiles", async () => {
    const received = { orders: 0, probes: 0 };
    const url = await serve((request, _body, response) => {
      if (request.url === "/healthz") {
        received.probes += 1;
        return;
      }
      received.orders += 1;
      // Keys are w-0 … w-99: the ten ending in 0 are never answered.
      const key = String(request.headers["idempotency-key"]);
      if (key.endsWith("0")) return;
      response.writeHead(202, { "content-type": "application/json" });
      response.end(JSON.stringify({ orderId: key.slice(2) }));
    });
    const result = await runWrkLoop(job(url, 100, 1000), new Workload(SPEC));
    expect(result.sent).toBe(100);
    expect(result.completed).toBe(90);
    expect(result.transportErrors).toEqual({ timeout: 10 });
    expect(result.latencyMs.count).toBe(100);
    // 10 % of requests at the 1 s deadline: p90 is an answered one, p99 is the deadline.
    expect(result.latencyMs.p90).toBeLessThan(1000);
    expect(result.latencyMs.p99).toBe(1000);
    expect(result.latencyMs.max).toBe(1000);
    // Ended by the driver once the deadline passed for every request, not by the run's hard stop.
    expect(result.truncated).toBe(false);
    // Exactly the planned orders reached the server; a parked connection whose park ran out sent
    // at most a probe, never another order.
    expect(received.orders).toBe(100);
    expect(received.probes).toBeLessThanOrEqual(20);
  }, 60_000);

  it("counts an answer later than the deadline at the deadline, and times the run to its last answer", async () => {
    const url = await serve((request, _body, response) => {
      const key = String(request.headers["idempotency-key"]);
      const answer = () => {
        response.writeHead(202, { "content-type": "application/json" });
        response.end(JSON.stringify({ orderId: key.slice(2) }));
      };
      // The ten keys ending in 0 are answered after 1.5 s, past the 1 s deadline.
      if (key.endsWith("0")) setTimeout(answer, 1500);
      else answer();
    });
    const result = await runWrkLoop(job(url, 100, 1000), new Workload(SPEC));
    expect(result.completed).toBe(100);
    expect(result.statusCounts).toEqual({ "202": 100 });
    expect(result.latencyMs.p50).toBeLessThan(1000);
    expect(result.latencyMs.p99).toBe(1000);
    expect(result.latencyMs.max).toBe(1000);
    // First send to last answer: about the 1.5 s of the slowest, not wrk's whole runtime.
    expect(result.durationMs).toBeGreaterThanOrEqual(1400);
    expect(result.durationMs).toBeLessThan(5000);
  }, 60_000);

  it("writes a planned request as HTTP/1.1 bytes with its body's length", () => {
    const workload = new Workload(SPEC);
    const text = rawRequest(workload.next(), "127.0.0.1:8080");
    expect(text).toMatch(/^POST \/orders HTTP\/1\.1\r\nHost: 127\.0\.0\.1:8080\r\n/);
    const body = '{"sku":"FLASH-W","quantity":1}';
    expect(text).toContain(`\r\nContent-Length: ${body.length}\r\n\r\n`);
    expect(text.endsWith(body)).toBe(true);
  });
});

describe("choosing the generator", () => {
  const closed = { kind: "closed", connections: 10 } as const;
  const open = { kind: "open", connections: 10, rate: 100 } as const;
  it("takes wrk for the closed model where it can, the node generator elsewhere", () => {
    expect(resolveGenerator(undefined, "flash-sale", closed, () => true)).toBe("wrk");
    expect(resolveGenerator(undefined, "accept", closed, () => true)).toBe("wrk");
    expect(resolveGenerator(undefined, "flash-sale", closed, () => false)).toBe("node");
    expect(resolveGenerator(undefined, "flash-sale", open, () => true)).toBe("node");
    expect(resolveGenerator(undefined, "mixed", closed, () => true)).toBe("node");
    expect(resolveGenerator("node", "catalog-read", closed, () => true)).toBe("node");
  });
  it("refuses wrk where it cannot run, and unknown names", () => {
    expect(() => resolveGenerator("wrk", "flash-sale", open, () => true)).toThrow(BenchOptionError);
    expect(() => resolveGenerator("wrk", "mixed", closed, () => true)).toThrow(/polls/);
    expect(() => resolveGenerator("wrk", "flash-sale", closed, () => false)).toThrow(/no wrk/);
    expect(() => resolveGenerator("autocannon", "flash-sale", closed, () => true)).toThrow(/unknown/);
  });
});
