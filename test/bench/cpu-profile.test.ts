import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  areaOf,
  type CpuProfileData,
  declarationLine,
  keepMainThreadProfile,
  summarizeCpuProfile,
} from "../../src/bench/cpu-profile.js";

const ROOT = "/repo";
const frame = (functionName: string, url: string, lineNumber = 0) => ({ functionName, url, lineNumber });

/** root → handler (src) → writev (native); root → (idle); root → parse (node_modules). */
const profile: CpuProfileData = {
  startTime: 1_000_000,
  nodes: [
    { id: 1, callFrame: frame("(root)", ""), children: [2, 4, 5] },
    { id: 2, callFrame: frame("handler", "file:///repo/src/services/orders/routes.ts", 0), children: [3] },
    { id: 3, callFrame: frame("writev", "") },
    { id: 4, callFrame: frame("(idle)", "") },
    { id: 5, callFrame: frame("parse", "file:///repo/node_modules/fast-json/index.js", 41) },
  ],
  // Sample i owns timeDeltas[i + 1]: 3 → 300 µs, 2 → 100 µs, 5 → 600 µs, 4 → 1000 µs, 3 → 0 (last).
  samples: [3, 2, 5, 4, 3],
  timeDeltas: [0, 300, 100, 600, 1000],
};

describe("CPU profile summary", () => {
  it("adds self time per function, leaves idle out of the busy share, and names native callers", () => {
    const summary = summarizeCpuProfile(profile, { repositoryRoot: ROOT, top: 10 });
    expect(summary.totalMs).toBe(2);
    expect(summary.busyMs).toBe(1);
    expect(summary.window).toBeNull();
    expect(summary.topFunctions.map((f) => [f.functionName, f.selfPercent])).toEqual([
      ["parse", 60],
      ["writev", 30],
      ["handler", 10],
    ]);
    expect(summary.topFunctions[0]!.location).toBe("node_modules/fast-json/index.js:42");
    expect(summary.topFunctions[1]).toMatchObject({
      location: "",
      calledFrom: "handler src/services/orders/routes.ts",
    });
    expect(summary.topAreas.map((a) => a.area)).toEqual(["fast-json", "(native)", "src/services/orders"]);
  });

  it("counts only the samples inside a window of the monotonic clock", () => {
    // Sample times: 1,000,000 (writev), +300 (handler), +400 (parse), +1000 (idle), +2000 (writev).
    const summary = summarizeCpuProfile(profile, {
      repositoryRoot: ROOT,
      top: 10,
      window: { startUs: 1_000_250, endUs: 1_000_450 },
    });
    expect(summary.topFunctions.map((f) => f.functionName)).toEqual(["parse", "handler"]);
  });

  it("sorts code into areas", () => {
    expect(areaOf("", "(garbage collector)")).toBe("(garbage collector)");
    expect(areaOf("node:internal/fs/promises", "write")).toBe("node internals");
    expect(areaOf("wasm://wasm/abc", "wasm-function[1]")).toBe("wasm");
    expect(areaOf("file:///r/node_modules/@electric-sql/pglite/dist/x.js", "p")).toBe("@electric-sql/pglite");
    expect(areaOf("file:///r/src/platform/http/server.ts", "f")).toBe("src/platform/http");
  });

  it("finds the declaring line of a function when exactly one line declares it", () => {
    const source = [
      "export class Intake {", // 1
      "  async place(order: Order): Promise<string> {", // 2
      "    return this.placeOnce(order);", // 3
      "  }", // 4
      "  private async placeOnce(order: Order) {", // 5
      "    helper(order);", // 6
      "  }", // 7
      "}", // 8
      "const helper = (order: Order) => order;", // 9
      "function twice() {}", // 10
      "function twice() {}", // 11
    ].join("\n");
    expect(declarationLine(source, "Intake")).toBe(1);
    expect(declarationLine(source, "place")).toBe(2);
    expect(declarationLine(source, "placeOnce")).toBe(5);
    expect(declarationLine(source, "helper")).toBe(9);
    expect(declarationLine(source, "twice")).toBeUndefined();
    expect(declarationLine(source, "missing")).toBeUndefined();
    expect(declarationLine(source, "(anonymous)")).toBeUndefined();
  });

  it("keeps the main thread's profile (thread id 0) under the chosen name", () => {
    const out = mkdtempSync(join(tmpdir(), "bench-profile-"));
    const directory = join(out, "profiles");
    mkdirSync(directory);
    writeFileSync(join(directory, "CPU.20250101.120000.4242.1.002.cpuprofile"), "hooks thread");
    writeFileSync(join(directory, "CPU.20250101.120000.4242.0.001.cpuprofile"), "main thread");
    expect(keepMainThreadProfile(directory, join(out, "run1.cpuprofile"))).toBe(true);
    expect(readdirSync(out)).toEqual(["run1.cpuprofile"]);
    mkdirSync(directory);
    expect(keepMainThreadProfile(directory, join(out, "run2.cpuprofile"))).toBe(false);
  });
});
