import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BenchOptionError } from "../../src/bench/options.js";
import {
  type HeapPoint,
  heapFlatness,
  perSecond,
  retainedBytesPerOrder,
  sweepSecondsTotal,
  windowStart,
} from "../../src/bench/soak/soak-figures.js";
import { mostOrdersPerBuyer, resolveSoakOptions, SOAK_DEFAULTS } from "../../src/bench/soak/soak-options.js";

const BIN = fileURLToPath(new URL("../../bin/floodgate.mjs", import.meta.url));
const MB = 1024 * 1024;

/** Checkpoints every 100k orders up to 1M with the heap given per checkpoint. */
const series = (heapAt: (orders: number) => number): HeapPoint[] =>
  Array.from({ length: 11 }, (_, i) => ({ orders: i * 100_000, heapUsed: Math.round(heapAt(i * 100_000)) }));

describe("floodgate bench soak: options", () => {
  it("defaults to the issue's run: 1M orders, a checkpoint every 100k, 20k buyers, 10M stock", () => {
    const options = resolveSoakOptions({});
    expect(options).toMatchObject({
      scenario: "soak",
      orders: 1_000_000,
      every: 100_000,
      buyers: 20_000,
      stock: 10_000_000,
      connections: SOAK_DEFAULTS.connections,
      restartAtCheckpoints: false,
      infra: "embedded",
      targetEnv: {},
    });
    // No buyer reaches the sale's limit: 50 orders each, plus one per batch at most.
    expect(mostOrdersPerBuyer(1_000_000, 100_000, 20_000)).toBe(60);
    expect(mostOrdersPerBuyer(1_000_000, 100_000, 20_000)).toBeLessThan(options.perUserLimit);
  });

  it("takes --orders, --every, --buyers (or --users), --stock and the servers through --target-env", () => {
    const options = resolveSoakOptions({
      orders: "50000",
      every: "10000",
      users: "5000",
      stock: "60000",
      connections: "32",
      restartAtCheckpoints: true,
      targetEnv: [
        "FLOODGATE_DATABASE_URLS=postgres://root@127.0.0.1:5432/test",
        "FLOODGATE_QUEUE_URL=nats://127.0.0.1:4222",
        "FLOODGATE_STOCK_URL=redis://127.0.0.1:6379",
      ],
    });
    expect(options).toMatchObject({
      orders: 50_000,
      every: 10_000,
      buyers: 5000,
      stock: 60_000,
      connections: 32,
      restartAtCheckpoints: true,
    });
    expect(Object.keys(options.targetEnv).sort()).toEqual([
      "FLOODGATE_DATABASE_URLS",
      "FLOODGATE_QUEUE_URL",
      "FLOODGATE_STOCK_URL",
    ]);
  });

  it("checkpoints at the end of a run shorter than --every's default", () => {
    expect(resolveSoakOptions({ orders: "50000" }).every).toBe(50_000);
  });

  it("refuses what would not be a soak: stock below demand, a buyer over the limit, other scenarios' options", () => {
    const refusals: [Parameters<typeof resolveSoakOptions>[0], RegExp][] = [
      [{ orders: "50000", stock: "40000" }, /--stock must be an integer from 50000/],
      [{ orders: "50000", every: "60000" }, /--every must be an integer from 1000 to 50000/],
      [{ orders: "1e6" }, /--orders must be an integer/],
      [{ orders: "1000000", buyers: "1000" }, /above the sale's per-buyer limit of 1000: give more --buyers/],
      [{ buyers: "10", users: "20" }, /not both/],
      [{ duration: "10" } as never, /--duration is not an option of the soak scenario/],
      [{ writeRate: "0" } as never, /--write-rate is not an option of the soak scenario/],
      [{ targetEnv: ["NODE_OPTIONS=--inspect"] }, /FLOODGATE_NAME=value/],
      [{ targetEnv: ["FLOODGATE_QUEUE_URL=nats://10.0.0.1:4222"] }, /only drives servers on 127.0.0.1/],
      [{ infra: "cloud" }, /unknown --infra/],
    ];
    for (const [raw, message] of refusals) {
      expect(() => resolveSoakOptions(raw), JSON.stringify(raw)).toThrow(BenchOptionError);
      expect(() => resolveSoakOptions(raw), JSON.stringify(raw)).toThrow(message);
    }
  });

  it("is described by --help, and its options are refused by the other scenarios", () => {
    const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" };
    const help = spawnSync(process.execPath, [BIN, "bench", "--help"], { env, encoding: "utf8" });
    expect(help.status).toBe(0);
    for (const text of ["soak", "--orders", "--every", "--restart-at-checkpoints", "1,000,000", "100,000"]) {
      expect(help.stdout).toContain(text);
    }
    const wrong = spawnSync(process.execPath, [BIN, "bench", "flash-sale", "--orders", "10"], {
      env,
      encoding: "utf8",
    });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain("--orders is an option of the soak scenario");
  });
});

describe("floodgate bench soak: figures", () => {
  it("starts the window at 200k orders, or a fifth of a shorter run", () => {
    expect(windowStart(1_000_000)).toBe(200_000);
    expect(windowStart(5_000_000)).toBe(200_000);
    expect(windowStart(50_000)).toBe(10_000);
  });

  it("measures the bytes kept per order as the heap's slope over the window", () => {
    // The finding: about 400 bytes a stored order, from a 35.6 MB empty heap.
    const growing = series((orders) => 35.6 * MB + 400 * orders);
    const retained = retainedBytesPerOrder(growing, 200_000)!;
    expect(retained.fromOrders).toBe(200_000);
    expect(retained.toOrders).toBe(1_000_000);
    expect(retained.slopeBytesPerOrder).toBeCloseTo(400, 3);
    expect(retained.endToEndBytesPerOrder).toBeCloseTo(400, 3);
    // Start-up garbage before the window does not count; noise in the window averages out.
    const bounded = series((orders) =>
      orders < 200_000 ? 80 * MB : 60 * MB + 8 * orders + (orders % 200_000 === 0 ? MB : -MB),
    );
    const fitted = retainedBytesPerOrder(bounded, 200_000)!;
    expect(fitted.slopeBytesPerOrder).toBeGreaterThan(6);
    expect(fitted.slopeBytesPerOrder).toBeLessThan(10);
    expect(
      retainedBytesPerOrder(
        series(() => 50 * MB),
        200_000,
      )!.slopeBytesPerOrder,
    ).toBe(0);
  });

  it("has no slope with fewer than two checkpoints in the window", () => {
    expect(retainedBytesPerOrder([{ orders: 0, heapUsed: MB }], 0)).toBeNull();
    expect(
      retainedBytesPerOrder(
        [
          { orders: 0, heapUsed: MB },
          { orders: 300_000, heapUsed: 2 * MB },
        ],
        200_000,
      ),
    ).toBeNull();
  });

  it("calls the heap flat when it stays within 10 % from the window's start to the end", () => {
    const flat = heapFlatness(
      series((orders) => (orders < 200_000 ? 90 * MB : 60 * MB + (orders % 300_000 === 0 ? 5 * MB : 0))),
      200_000,
    )!;
    expect(flat).toMatchObject({
      fromOrders: 200_000,
      toOrders: 1_000_000,
      minBytes: 60 * MB,
      maxBytes: 65 * MB,
    });
    expect(flat.spread).toBeCloseTo(5 / 60, 6);
    expect(flat.flat).toBe(true);
    const growing = heapFlatness(
      series((orders) => 35.6 * MB + 400 * orders),
      200_000,
    )!;
    expect(growing.flat).toBe(false);
    expect(growing.spread).toBeGreaterThan(2);
    expect(heapFlatness([], 200_000)).toBeNull();
  });

  it("reads the sweeper's counter from /metrics, n/a when the inventory does not expose it", () => {
    const exposition = [
      "# HELP floodgate_inventory_sweep_seconds_total Seconds spent in reservation sweeps.",
      "# TYPE floodgate_inventory_sweep_seconds_total counter",
      'floodgate_inventory_sweep_seconds_total{service="inventory"} 0.25',
      'floodgate_inventory_sweep_seconds_total{service="inventory",shard="1"} 0.5',
      "floodgate_inventory_sweep_seconds_total_created 1796312471",
      "floodgate_process_cpu_seconds_total 12",
    ].join("\n");
    expect(sweepSecondsTotal(exposition)).toBe(0.75);
    expect(sweepSecondsTotal("inventory_sweep_seconds_total 2\n")).toBe(2);
    expect(sweepSecondsTotal("floodgate_process_cpu_seconds_total 12\n")).toBeNull();
    expect(perSecond({ atMs: 0, value: 1 }, { atMs: 10_000, value: 1.05 })).toBeCloseTo(0.005, 9);
    expect(perSecond({ atMs: 0, value: null }, { atMs: 10_000, value: 1 })).toBeNull();
  });
});
