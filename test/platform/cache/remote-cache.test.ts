import { describe, expect, it } from "vitest";
import {
  CacheTimeoutError,
  ConnectionErrorReporter,
  parseCacheUrl,
  reconnectDelayMs,
  redactUrl,
  resolveRemoteCacheOptions,
  wholeTtlMs,
  withDeadline,
} from "../../../src/platform/cache/remote-cache.js";
import { sleep } from "./cache-conformance.js";

describe("parseCacheUrl", () => {
  it("reads one server, with the default port when none is given", () => {
    const parsed = parseCacheUrl("redis://cache.internal", 6379);
    expect(parsed).toMatchObject({
      scheme: "redis",
      servers: [{ host: "cache.internal", port: 6379 }],
      username: undefined,
      password: undefined,
      path: "",
    });
  });

  it("reads a comma-separated server list, IPv6 literals, credentials and a path", () => {
    const parsed = parseCacheUrl("REDIS-CLUSTER://app:p%40ss%3Aword@10.0.0.1:7000,[::1]:7001,h3/", 6379);
    expect(parsed.scheme).toBe("redis-cluster");
    expect(parsed.servers).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "::1", port: 7001 },
      { host: "h3", port: 6379 },
    ]);
    expect(parsed.username).toBe("app");
    expect(parsed.password).toBe("p@ss:word");
    expect(parsed.path).toBe("/");
    expect(parsed.redacted).toBe("REDIS-CLUSTER://app:***@10.0.0.1:7000,[::1]:7001,h3/");
  });

  it("takes a password alone, as redis://:password@host", () => {
    const parsed = parseCacheUrl("redis://:secret@h:1/2", 6379);
    expect(parsed).toMatchObject({ username: undefined, password: "secret", path: "/2" });
  });

  it("rejects what is not scheme://host[:port], never echoing the password", () => {
    const bad = [
      "cache.internal:6379",
      "redis://",
      "redis://u:hunter2@",
      "redis://u:hunter2@h:port",
      "redis://u:hunter2@h:70000",
      "redis://u:hunter2@h:1,,h:2",
      "redis://u:%zz@h:1",
    ];
    for (const url of bad) {
      expect(() => parseCacheUrl(url, 6379), url).toThrow();
      try {
        parseCacheUrl(url, 6379);
      } catch (error) {
        expect(String(error)).not.toContain("hunter2");
      }
    }
  });
});

describe("redactUrl", () => {
  it("hides the password, even one with an @ in it, and leaves URLs without one alone", () => {
    expect(redactUrl("redis://u:pa@ss@h:1/0")).toBe("redis://u:***@h:1/0");
    expect(redactUrl("memcached://h1:1,h2:2")).toBe("memcached://h1:1,h2:2");
    expect(redactUrl("redis://user@h:1")).toBe("redis://user@h:1");
  });
});

describe("resolveRemoteCacheOptions", () => {
  it("fills in the defaults and refuses nonsense", () => {
    expect(resolveRemoteCacheOptions()).toMatchObject({
      commandTimeoutMs: 250,
      connectTimeoutMs: 2000,
      maxReconnectDelayMs: 1000,
    });
    expect(() => resolveRemoteCacheOptions({ commandTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => resolveRemoteCacheOptions({ connectTimeoutMs: 1.5 })).toThrow(RangeError);
  });
});

describe("wholeTtlMs", () => {
  it("rounds up, and refuses TTLs that are not positive and finite", () => {
    expect(wholeTtlMs(1)).toBe(1);
    expect(wholeTtlMs(0.1)).toBe(1);
    expect(wholeTtlMs(1500.2)).toBe(1501);
    for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => wholeTtlMs(ttl)).toThrow(RangeError);
    }
  });
});

describe("withDeadline", () => {
  it("passes a result or an error through", async () => {
    await expect(withDeadline(Promise.resolve(7), 100, () => "op")).resolves.toBe(7);
    await expect(withDeadline(Promise.reject(new Error("boom")), 100, () => "op")).rejects.toThrow("boom");
  });

  it("rejects with CacheTimeoutError when the operation is late, and absorbs its late failure", async () => {
    const late = sleep(100).then(() => {
      throw new Error("late failure");
    });
    const startedAt = Date.now();
    await expect(withDeadline(late, 20, () => "slow op")).rejects.toThrow(CacheTimeoutError);
    expect(Date.now() - startedAt).toBeLessThan(90);
    // The late rejection must not become an unhandled rejection (Vitest would fail the run).
    await sleep(120);
  });
});

describe("reconnectDelayMs", () => {
  it("doubles from 50 ms up to the cap, with jitter in the upper half", () => {
    for (let trial = 0; trial < 50; trial++) {
      const first = reconnectDelayMs(1, 1000);
      expect(first).toBeGreaterThanOrEqual(25);
      expect(first).toBeLessThanOrEqual(50);
      const capped = reconnectDelayMs(40, 1000);
      expect(capped).toBeGreaterThanOrEqual(500);
      expect(capped).toBeLessThanOrEqual(1000);
    }
  });
});

describe("ConnectionErrorReporter", () => {
  it("reports once a second per source, counting what it left out", async () => {
    const reported: Error[] = [];
    const reporter = new ConnectionErrorReporter("redis", (error) => reported.push(error));
    for (let attempt = 0; attempt < 5; attempt++) reporter.report("h:1", new Error("refused"));
    reporter.report("h:2", new Error("reset"));
    expect(reported.map((error) => error.message)).toEqual(["redis h:1: refused", "redis h:2: reset"]);
    expect(reported[0]?.cause).toBeInstanceOf(Error);
    await sleep(1050);
    reporter.report("h:1", new Error("refused"));
    expect(reported[2]?.message).toBe("redis h:1: refused (4 more since the last report)");
  });

  it("survives a callback that throws", () => {
    const reporter = new ConnectionErrorReporter("redis", () => {
      throw new Error("logger broke");
    });
    expect(() => reporter.report("h:1", "not even an Error")).not.toThrow();
  });
});
