import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../src/platform/config/load-config.js";
import { SERVICE_NAMES } from "../../../src/platform/config/settings.js";

describe("loadConfig", () => {
  it("uses documented defaults when nothing is set", () => {
    const config = loadConfig({ env: {} });
    expect(config.port).toBe(8080);
    expect(config.dataDir).toBe("./.floodgate");
    expect(config.databaseUrls).toBeUndefined();
    expect(config.services).toEqual([...SERVICE_NAMES]);
    expect(config.seedDemo).toBe(true);
  });

  it("reads env overrides", () => {
    const config = loadConfig({
      env: {
        FLOODGATE_PORT: "9090",
        FLOODGATE_DATABASE_URLS: "postgres://a@h1/db, postgres://a@h2/db",
        FLOODGATE_SERVICE_URLS: "inventory=http://127.0.0.1:8081",
        FLOODGATE_SEED_DEMO: "false",
      },
    });
    expect(config.port).toBe(9090);
    expect(config.databaseUrls).toEqual(["postgres://a@h1/db", "postgres://a@h2/db"]);
    expect(config.serviceUrls.get("inventory")).toBe("http://127.0.0.1:8081");
    expect(config.seedDemo).toBe(false);
  });

  it("names the variable and the accepted values when a value is bad", () => {
    expect(() => loadConfig({ env: { FLOODGATE_PORT: "eighty" } })).toThrow(
      /FLOODGATE_PORT.*accepts an integer from 0 to 65535/,
    );
    expect(() => loadConfig({ env: { FLOODGATE_LOG_LEVEL: "loud" } })).toThrow(
      /FLOODGATE_LOG_LEVEL accepts one of fatal/,
    );
    expect(() => loadConfig({ env: { FLOODGATE_DATABASE_URLS: "mysql://x/y" } })).toThrow(
      /FLOODGATE_DATABASE_URLS accepts comma-separated URLs with scheme postgres:\/\//,
    );
    expect(() => loadConfig({ env: { FLOODGATE_SERVICES: "orders,billing" } })).toThrow(/unknown: billing/);
  });

  it("accepts multi-host cache URLs and never echoes a password", () => {
    const config = loadConfig({
      env: { FLOODGATE_CACHE_URL: "redis-cluster://127.0.0.1:7000,127.0.0.1:7001" },
    });
    expect(config.cacheUrl).toBe("redis-cluster://127.0.0.1:7000,127.0.0.1:7001");
    expect(loadConfig({ env: { FLOODGATE_CACHE_URL: "none://" } }).cacheUrl).toBe("none://");
    expect(() => loadConfig({ env: { FLOODGATE_CACHE_URL: "mysql://root:hunter2@db/x" } })).toThrow(
      /not supported/,
    );
    expect(() => loadConfig({ env: { FLOODGATE_DATABASE_URLS: "root:hunter2@db" } })).toThrow(ConfigError);
    try {
      loadConfig({ env: { FLOODGATE_CACHE_URL: "redis//root:hunter2@db" } });
    } catch (error) {
      expect((error as Error).message).not.toContain("hunter2");
    }
  });

  it("stops on an unknown FLOODGATE_ variable (a typo must not fall back to a default)", () => {
    expect(() => loadConfig({ env: { FLOODGATE_PROT: "1" } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { FLOODGATE_PROT: "1" } })).toThrow(
      /Unknown environment variable FLOODGATE_PROT/,
    );
  });

  it("reads a JSON config file; env wins over it; unknown keys stop start-up", () => {
    const dir = mkdtempSync(join(tmpdir(), "fg-config-"));
    const file = join(dir, "floodgate.json");
    writeFileSync(file, JSON.stringify({ port: 7000, logLevel: "warn" }));
    const config = loadConfig({ env: { FLOODGATE_CONFIG: file, FLOODGATE_LOG_LEVEL: "error" } });
    expect(config.port).toBe(7000);
    expect(config.logLevel).toBe("error");
    writeFileSync(file, JSON.stringify({ prot: 7000 }));
    expect(() => loadConfig({ env: { FLOODGATE_CONFIG: file } })).toThrow(/unknown setting "prot"/);
  });
});
