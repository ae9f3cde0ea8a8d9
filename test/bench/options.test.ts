import { describe, expect, it } from "vitest";
import {
  BenchOptionError,
  defaultBatchSize,
  parseMix,
  parseScenario,
  resolveBenchOptions,
  SCENARIO_DEFAULTS,
} from "../../src/bench/options.js";

describe("bench options", () => {
  it("applies each scenario's defaults", () => {
    const flash = resolveBenchOptions("flash-sale", {});
    expect(flash.length).toEqual(SCENARIO_DEFAULTS["flash-sale"].length);
    expect(flash.model).toEqual({ kind: "closed", connections: SCENARIO_DEFAULTS["flash-sale"].connections });
    // One buyer per request.
    expect(flash.users).toBe(
      SCENARIO_DEFAULTS["flash-sale"].length.kind === "requests" ? 20_000 : flash.users,
    );
    expect(flash.batchSize).toBe(defaultBatchSize(flash.writeRate));
    expect(flash).toMatchObject({
      compare: [],
      runs: 1,
      url: null,
      databaseUrl: null,
      cpuProf: false,
      jsonOnly: false,
    });
    expect(resolveBenchOptions("catalog-read", {}).length).toEqual({ kind: "duration", seconds: 10 });
  });

  it("takes --requests or --duration, not both, and gives a flash sale one buyer per request", () => {
    expect(resolveBenchOptions("flash-sale", { requests: "300" })).toMatchObject({
      length: { kind: "requests", count: 300 },
      users: 300,
    });
    expect(resolveBenchOptions("flash-sale", { duration: "2.5" }).length).toEqual({
      kind: "duration",
      seconds: 2.5,
    });
    expect(() => resolveBenchOptions("flash-sale", { requests: "10", duration: "1" })).toThrow(
      BenchOptionError,
    );
    expect(() => resolveBenchOptions("flash-sale", { requests: "0" })).toThrow("--requests");
    expect(() => resolveBenchOptions("flash-sale", { requests: "1e3" })).toThrow("--requests");
  });

  it("switches to the open model with --rate", () => {
    expect(resolveBenchOptions("catalog-read", { rate: "2500", connections: "20" }).model).toEqual({
      kind: "open",
      connections: 20,
      rate: 2500,
    });
    expect(() => resolveBenchOptions("catalog-read", { rate: "0" })).toThrow("--rate");
  });

  it("offers only the baselines that serve the scenario, in a fixed order", () => {
    expect(resolveBenchOptions("flash-sale", { compare: "naive,ceiling" }).compare).toEqual([
      "ceiling",
      "naive",
    ]);
    expect(() => resolveBenchOptions("catalog-read", { compare: "naive" })).toThrow(
      "does not serve catalog-read",
    );
    expect(() => resolveBenchOptions("flash-sale", { compare: "redis" })).toThrow("unknown baseline");
  });

  it("sends traffic only to this machine", () => {
    expect(resolveBenchOptions("catalog-read", { url: "http://127.0.0.1:8080/" }).url).toBe(
      "http://127.0.0.1:8080",
    );
    expect(() => resolveBenchOptions("catalog-read", { url: "http://10.0.0.5:8080" })).toThrow(
      "this machine",
    );
    expect(() => resolveBenchOptions("catalog-read", { url: "https://localhost:8080" })).toThrow("http:");
    expect(() =>
      resolveBenchOptions("flash-sale", {
        compare: "naive",
        databaseUrl: "postgres://root@db.example:5432/test",
      }),
    ).toThrow("this machine");
    expect(
      resolveBenchOptions("flash-sale", {
        compare: "naive",
        databaseUrl: "postgres://root@127.0.0.1:5432/test",
      }).databaseUrl,
    ).toBe("postgres://root@127.0.0.1:5432/test");
  });

  it("refuses combinations that cannot work", () => {
    expect(() =>
      resolveBenchOptions("flash-sale", { databaseUrl: "postgres://root@127.0.0.1/test" }),
    ).toThrow("--compare naive");
    expect(() => resolveBenchOptions("flash-sale", { url: "http://127.0.0.1:1", cpuProf: true })).toThrow(
      "--cpu-prof",
    );
    expect(() => resolveBenchOptions("flash-sale", { url: "http://127.0.0.1:1", writeRate: "5" })).toThrow(
      "--write-rate",
    );
    expect(() => resolveBenchOptions("flash-sale", { stock: "0" })).toThrow("--stock");
    expect(() => parseScenario("checkout")).toThrow("unknown scenario");
  });

  it("normalises the mix and derives the write batch from the write rate", () => {
    expect(parseMix("80/10/10")).toEqual({ browse: 0.8, order: 0.1, poll: 0.1 });
    expect(parseMix("2/1/1")).toEqual({ browse: 0.5, order: 0.25, poll: 0.25 });
    expect(() => parseMix("80/20")).toThrow("--mix");
    expect(() => parseMix("0/0/0")).toThrow("--mix");
    expect(defaultBatchSize(250)).toBe(25);
    expect(defaultBatchSize(5)).toBe(1);
    expect(defaultBatchSize(0)).toBe(500);
    expect(resolveBenchOptions("flash-sale", { writeRate: "1000", batchSize: "7" }).batchSize).toBe(7);
  });

  it("puts the --infra preset's servers in the target's settings, and refuses contradicting ones", () => {
    const infra = resolveBenchOptions("flash-sale", { infra: "redis-jetstream" });
    expect(infra.infra).toBe("redis-jetstream");
    expect(infra.targetEnv).toEqual({
      FLOODGATE_STOCK_URL: "redis://127.0.0.1:6379",
      FLOODGATE_QUEUE_URL: "nats://127.0.0.1:4222",
    });
    expect(
      resolveBenchOptions("flash-sale", {
        infra: "redis-jetstream",
        targetEnv: [
          "FLOODGATE_CACHE_URL=redis://127.0.0.1:6379",
          "FLOODGATE_QUEUE_URL=nats://127.0.0.1:4222",
        ],
      }).targetEnv,
    ).toMatchObject({ FLOODGATE_CACHE_URL: "redis://127.0.0.1:6379" });
    expect(() =>
      resolveBenchOptions("flash-sale", {
        infra: "redis-jetstream",
        targetEnv: ["FLOODGATE_QUEUE_URL=redis://127.0.0.1:6379"],
      }),
    ).toThrow("contradicts");
    expect(() => resolveBenchOptions("flash-sale", { infra: "kafka" })).toThrow("unknown --infra");
    expect(() =>
      resolveBenchOptions("flash-sale", { infra: "redis-jetstream", url: "http://127.0.0.1:1" }),
    ).toThrow("--infra");
    expect(resolveBenchOptions("flash-sale", {})).toMatchObject({ infra: "embedded", targetEnv: {} });
  });

  it("refuses a queue prefix the run tag would push past Floodgate's 32 characters", () => {
    expect(() =>
      resolveBenchOptions("flash-sale", {
        infra: "redis-jetstream",
        targetEnv: [`FLOODGATE_QUEUE_PREFIX=${"q".repeat(24)}`],
      }),
    ).toThrow("FLOODGATE_QUEUE_PREFIX");
    // Without a shared server the prefix is passed on as given.
    expect(
      resolveBenchOptions("flash-sale", { targetEnv: [`FLOODGATE_QUEUE_PREFIX=${"q".repeat(24)}`] })
        .targetEnv,
    ).toEqual({ FLOODGATE_QUEUE_PREFIX: "q".repeat(24) });
  });

  it("takes --at-fraction-of-max as a fraction, and not together with --rate", () => {
    expect(resolveBenchOptions("flash-sale", { atFractionOfMax: "0.8" })).toMatchObject({
      fractionOfMax: 0.8,
      model: { kind: "closed" },
    });
    expect(resolveBenchOptions("flash-sale", {}).fractionOfMax).toBeNull();
    expect(() => resolveBenchOptions("flash-sale", { atFractionOfMax: "0" })).toThrow("--at-fraction-of-max");
    expect(() => resolveBenchOptions("flash-sale", { atFractionOfMax: "1.5" })).toThrow(
      "--at-fraction-of-max",
    );
    expect(() => resolveBenchOptions("flash-sale", { atFractionOfMax: "0.8", rate: "100" })).toThrow(
      "not both",
    );
  });
});
