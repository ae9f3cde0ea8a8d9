import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/platform/config/load-config.js";
import { checkStartupSettings } from "../../src/runtime/startup-checks.js";

const check = (env: Record<string, string>, services?: string) =>
  checkStartupSettings(loadConfig({ env, overrides: services ? { services } : {} }));

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
