import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/platform/config/load-config.js";
import { checkStartupSettings } from "../../src/runtime/startup-checks.js";

/** Development unless `env` says otherwise (a server URL alone would imply production). */
const check = (env: Record<string, string>, services?: string) =>
  checkStartupSettings(
    loadConfig({ env: { FLOODGATE_ENV: "development", ...env }, overrides: services ? { services } : {} }),
  );

describe("settings refused together at start-up", () => {
  it("refuses an intake or worker role on the embedded queue, naming both settings", () => {
    for (const role of ["intake", "worker"]) {
      const queues: Record<string, string>[] = [{}, { FLOODGATE_QUEUE_URL: "embedded://" }];
      for (const queue of queues) {
        expect(() => check({ FLOODGATE_ORDERS_ROLE: role, ...queue }, "orders")).toThrow(ConfigError);
        expect(() => check({ FLOODGATE_ORDERS_ROLE: role, ...queue })).toThrow(
          new RegExp(`FLOODGATE_ORDERS_ROLE=${role} needs a queue .* Set FLOODGATE_QUEUE_URL`),
        );
      }
    }
  });

  it("accepts split roles on a shared broker, the role all anywhere, and a role in a process without orders", () => {
    for (const queue of ["nats://127.0.0.1:4222", "redis://127.0.0.1:6379"]) {
      expect(() =>
        check({ FLOODGATE_ORDERS_ROLE: "intake", FLOODGATE_QUEUE_URL: queue }, "orders"),
      ).not.toThrow();
      expect(() =>
        check({ FLOODGATE_ORDERS_ROLE: "worker", FLOODGATE_QUEUE_URL: queue }, "orders"),
      ).not.toThrow();
    }
    expect(() => check({})).not.toThrow();
    expect(() =>
      check({ FLOODGATE_ORDERS_ROLE: "all", FLOODGATE_QUEUE_URL: "nats://127.0.0.1:4222" }, "orders"),
    ).not.toThrow();
    expect(() => check({ FLOODGATE_ORDERS_ROLE: "intake" }, "catalog")).not.toThrow();
  });

  it("refuses services that meet others through events, apart from them, on the embedded queue", () => {
    for (const service of ["inventory", "orders", "payments", "fulfillment", "notifications", "loyalty"]) {
      expect(() => check({}, service)).toThrow(/would never arrive\. Set FLOODGATE_QUEUE_URL/);
      expect(() => check({ FLOODGATE_QUEUE_URL: "nats://127.0.0.1:4222" }, service)).not.toThrow();
    }
    // Services that use no events may run alone on the embedded queue; and all of them in one process.
    expect(() => check({}, "catalog,sales")).not.toThrow();
    expect(() => check({})).not.toThrow();
  });
});

describe("production mode", () => {
  const secret = { FLOODGATE_AUTH_SECRET: "p".repeat(40) };
  const provider = { FLOODGATE_PAYMENT_PROVIDER_URL: "http://127.0.0.1:9" };

  it("is implied by any server URL, and can be set either way explicitly", () => {
    expect(loadConfig({ env: {} }).env).toBe("development");
    expect(loadConfig({ env: { FLOODGATE_CACHE_URL: "memory://" } }).env).toBe("development");
    for (const server of [
      { FLOODGATE_DATABASE_URLS: "postgres://root@127.0.0.1:5432/test" },
      { FLOODGATE_QUEUE_URL: "nats://127.0.0.1:4222" },
      { FLOODGATE_CACHE_URL: "redis://127.0.0.1:6379" },
      { FLOODGATE_STOCK_URL: "redis://127.0.0.1:6379" },
      { FLOODGATE_SMTP_URL: "smtp://127.0.0.1:25" },
    ]) {
      expect(loadConfig({ env: server }).env, JSON.stringify(server)).toBe("production");
      expect(loadConfig({ env: { ...server, FLOODGATE_ENV: "development" } }).env).toBe("development");
    }
    expect(loadConfig({ env: { FLOODGATE_ENV: "production" } }).env).toBe("production");
  });

  it("refuses to start without FLOODGATE_AUTH_SECRET", () => {
    expect(() => check({ FLOODGATE_ENV: "production" })).toThrow(/FLOODGATE_AUTH_SECRET is unset/);
    expect(() =>
      check({ FLOODGATE_ENV: "production", FLOODGATE_QUEUE_URL: "nats://127.0.0.1:4222" }),
    ).toThrow(/FLOODGATE_AUTH_SECRET/);
    expect(() => check({ FLOODGATE_ENV: "production", ...secret, ...provider })).not.toThrow();
  });

  it("refuses to host payments on the built-in simulator", () => {
    expect(() => check({ FLOODGATE_ENV: "production", ...secret })).toThrow(/FLOODGATE_PAYMENT_PROVIDER_URL/);
    expect(() =>
      check({ FLOODGATE_ENV: "production", ...secret, FLOODGATE_INTERNAL_PORT: "9090" }, "catalog,sales"),
    ).not.toThrow();
    expect(() => check({ FLOODGATE_ENV: "development" })).not.toThrow();
  });

  it("refuses a process other services must call without an internal port", () => {
    const apart = { FLOODGATE_ENV: "production", FLOODGATE_QUEUE_URL: "nats://127.0.0.1:4222", ...secret };
    expect(() => check(apart, "inventory")).toThrow(/FLOODGATE_INTERNAL_PORT/);
    expect(() => check({ ...apart, FLOODGATE_INTERNAL_PORT: "9090" }, "inventory")).not.toThrow();
  });
});
