import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/platform/config/load-config.js";
import { workerIdSourceOf } from "../../src/runtime/worker-ids.js";

const source = (env: Record<string, string>) => workerIdSourceOf(loadConfig({ env }), "/data");

describe("where a process's snowflake worker id comes from", () => {
  it("is FLOODGATE_WORKER_ID when set, whatever servers are configured", () => {
    expect(
      source({
        FLOODGATE_WORKER_ID: "7",
        FLOODGATE_DATABASE_URLS: "postgres://h/db",
        FLOODGATE_STOCK_URL: "redis://h:1",
      }),
    ).toEqual({ kind: "explicit", workerId: 7 });
    expect(source({ FLOODGATE_WORKER_ID: "0" })).toEqual({ kind: "explicit", workerId: 0 });
  });

  it("is a lease on the primary database when there is one, before any Redis", () => {
    expect(
      source({
        FLOODGATE_DATABASE_URLS: "postgres://h1/db,postgres://h2/db",
        FLOODGATE_STOCK_URL: "redis://s:1",
        FLOODGATE_CACHE_URL: "redis://c:1",
      }),
    ).toEqual({ kind: "database", url: "postgres://h1/db" });
  });

  it("is a lease on the stock Redis, then on the cache Redis, each under its own prefix", () => {
    expect(
      source({
        FLOODGATE_STOCK_URL: "redis-cluster://s:1,s:2",
        FLOODGATE_STOCK_PREFIX: "shop:",
        FLOODGATE_CACHE_URL: "redis://c:1",
      }),
    ).toEqual({
      kind: "redis",
      setting: "FLOODGATE_STOCK_URL",
      url: "redis-cluster://s:1,s:2",
      prefix: "shop:",
    });
    expect(source({ FLOODGATE_STOCK_URL: "memory://", FLOODGATE_CACHE_URL: "redis://c:1" })).toEqual({
      kind: "redis",
      setting: "FLOODGATE_CACHE_URL",
      url: "redis://c:1",
      prefix: "floodgate:",
    });
  });

  it("is a lease in the data dir when no server is shared (memcached and memory are not lease stores)", () => {
    const unshared: Record<string, string>[] = [
      {},
      { FLOODGATE_CACHE_URL: "memcached://m:1" },
      { FLOODGATE_STOCK_URL: "memory://" },
    ];
    for (const env of unshared) {
      expect(source(env)).toEqual({ kind: "data-dir", directory: join("/data", "ids") });
    }
  });
});
