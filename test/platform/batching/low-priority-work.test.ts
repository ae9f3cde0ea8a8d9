import { describe, expect, it } from "vitest";
import { LowPriorityWork } from "../../../src/platform/batching/low-priority-work.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";

describe("low-priority work", () => {
  it("runs only while the queue lag is at or below the threshold, and counts what it deferred", async () => {
    let lag = 5000;
    let runs = 0;
    const metrics = new Metrics();
    const work = new LowPriorityWork({
      lag: async () => lag,
      maxLag: 100,
      intervalMs: 60_000,
      logger: createLogger("silent"),
      metrics,
    });
    work.add("reconcile", async () => {
      runs++;
    });
    await work.tick();
    await work.tick();
    expect(runs).toBe(0); // a burst is draining: the database is left to the workers
    lag = 100;
    await work.tick();
    expect(runs).toBe(1);
    const text = await metrics.text();
    expect(text).toContain('floodgate_low_priority_runs_total{task="reconcile",outcome="deferred"} 2');
    expect(text).toContain('floodgate_low_priority_runs_total{task="reconcile",outcome="ran"} 1');
  });

  it("treats a lag it cannot read as busy", async () => {
    let runs = 0;
    const work = new LowPriorityWork({
      lag: async () => {
        throw new Error("orders service unreachable");
      },
      maxLag: 100,
      intervalMs: 60_000,
      logger: createLogger("silent"),
      metrics: new Metrics(),
    });
    work.add("reconcile", async () => {
      runs++;
    });
    await work.tick();
    expect(runs).toBe(0);
  });
});
