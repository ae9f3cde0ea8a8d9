import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import type { GeneratorJob } from "../../src/bench/generator/messages.js";
import { runOpenLoop } from "../../src/bench/generator/open-loop.js";
import { Recorder } from "../../src/bench/generator/recorder.js";
import { transportErrorCause } from "../../src/bench/generator/transport-error.js";
import { Workload, type WorkloadSpec } from "../../src/bench/workload.js";

const SPEC: WorkloadSpec = {
  scenario: "catalog-read",
  authSecret: "open-loop-test-secret-at-least-32-characters",
  seed: 1,
  runTag: "t",
  users: 1,
  userPrefix: "buyer",
  sku: "",
  productIds: ["1", "2", "3"],
  zipfExponent: 1.1,
  mix: { browse: 1, order: 0, poll: 0 },
};

describe("open-loop generator", () => {
  it("keeps sending on schedule while nothing is answered (no coordinated omission)", async () => {
    const REQUESTS = 20;
    const held: ServerResponse[] = [];
    let receivedBeforeFirstAnswer = 0;
    // Answers nothing until every request has arrived: a closed loop would send one per
    // connection and wait; an open loop sends them all at their due times regardless.
    const server = createServer((_request, response) => {
      held.push(response);
      if (held.length === REQUESTS) {
        receivedBeforeFirstAnswer = held.length;
        for (const waiting of held) waiting.end('{"ok":true}');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const job: GeneratorJob = {
      generator: "node",
      url: `http://127.0.0.1:${port}`,
      model: { kind: "open", connections: 2 * REQUESTS, rate: 200 },
      length: { kind: "requests", count: REQUESTS },
      workload: SPEC,
      requestTimeoutMs: 10_000,
      deadlineMs: 20_000,
    };
    const recorder = new Recorder(job.requestTimeoutMs);
    const outcome = await runOpenLoop(job, new Workload(SPEC), recorder);
    server.close();
    expect(outcome.sent).toBe(REQUESTS);
    expect(outcome.truncated).toBe(false);
    expect(receivedBeforeFirstAnswer).toBe(REQUESTS);
    expect(recorder.statusCounts()).toEqual({ "200": REQUESTS });
    expect(recorder.errors).toBe(0);
    expect(recorder.latency().count).toBe(REQUESTS);
    expect(outcome.sendLag?.count).toBe(REQUESTS);
  });

  it("abandons a request that gets no answer within the timeout of its intended time", async () => {
    const server = createServer(() => {
      // never answers
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const recorder = new Recorder(200);
    const outcome = await runOpenLoop(
      {
        generator: "node",
        url: `http://127.0.0.1:${port}`,
        model: { kind: "open", connections: 4, rate: 100 },
        length: { kind: "requests", count: 3 },
        workload: SPEC,
        requestTimeoutMs: 200,
        deadlineMs: 20_000,
      },
      new Workload(SPEC),
      recorder,
    );
    server.closeAllConnections();
    server.close();
    expect(outcome.truncated).toBe(false);
    expect(recorder.transportErrors()).toEqual({ timeout: 3 });
    expect(recorder.completed).toBe(0);
    // Each timed-out request counts in the percentiles at its deadline.
    const latency = recorder.latency();
    expect(latency.count).toBe(3);
    for (const value of [latency.p50, latency.p99, latency.max]) expect(value).toBeCloseTo(200, 0);
  });

  it("labels transport errors by their cause", () => {
    expect(transportErrorCause(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toBe(
      "ECONNRESET",
    );
    expect(transportErrorCause(new Error("request timed out"))).toBe("timeout");
    expect(
      transportErrorCause(new DOMException("The operation was aborted due to timeout", "TimeoutError")),
    ).toBe("timeout");
    expect(transportErrorCause("weird")).toBe("unknown");
  });
});
