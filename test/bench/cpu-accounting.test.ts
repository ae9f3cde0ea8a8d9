import { describe, expect, it } from "vitest";
import { cpuShares, processCpuMs, takeCpuSnapshot } from "../../src/bench/cpu-accounting.js";
import { clockTicksPerSecond } from "../../src/bench/proc-clock.js";

describe("CPU accounting", () => {
  it("splits the machine's busy time between target, generator, bench and other processes", () => {
    const before = { atMs: 0, machineBusyMs: 10_000, targetMs: 500, benchMs: 100, servers: null };
    const after = { atMs: 2000, machineBusyMs: 13_600, targetMs: 2300, benchMs: 140, servers: null };
    expect(cpuShares(before, after, 1000)).toEqual({
      wallMs: 2000,
      machineCores: 1.8,
      targetCores: 0.9,
      generatorCores: 0.5,
      benchCores: 0.02,
      serverCores: null,
      otherCores: 0.38,
    });
  });

  it("counts the servers the target works through apart from the other processes", () => {
    const ticks = clockTicksPerSecond();
    // Redis (pid 10) spent 0.3 s; a PostgreSQL backend (pid 21) that appeared during the run 0.2 s.
    const before = {
      atMs: 0,
      machineBusyMs: 10_000,
      targetMs: 500,
      benchMs: 100,
      servers: new Map([[10, 1 * ticks]]),
    };
    const after = {
      atMs: 2000,
      machineBusyMs: 13_600,
      targetMs: 2300,
      benchMs: 140,
      servers: new Map([
        [10, 1.3 * ticks],
        [21, 0.2 * ticks],
      ]),
    };
    expect(cpuShares(before, after, 1000)).toMatchObject({
      targetCores: 0.9,
      serverCores: 0.25,
      otherCores: 0.13,
    });
  });

  it("cannot name the others' share without the target's own time", () => {
    const before = { atMs: 0, machineBusyMs: 0, targetMs: null, benchMs: 0, servers: null };
    const after = { atMs: 1000, machineBusyMs: 1500, targetMs: null, benchMs: 0, servers: null };
    expect(cpuShares(before, after, 500)).toMatchObject({
      targetCores: null,
      otherCores: null,
      machineCores: 1.5,
    });
  });

  it.skipIf(process.platform !== "linux")("reads a process's CPU time from /proc", () => {
    const spent = processCpuMs(process.pid);
    expect(spent).toBeGreaterThan(0);
    expect(processCpuMs(2 ** 30)).toBeNull();
    expect(takeCpuSnapshot(process.pid).targetMs).toBeGreaterThanOrEqual(spent!);
  });
});
