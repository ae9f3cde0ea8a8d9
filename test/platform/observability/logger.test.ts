import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "../../../src/platform/observability/logger.js";

describe("createLogger", () => {
  it("writes each line with its own fields only, never those of earlier lines", () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    const logger = createLogger("info", { app: "t" }, sink);
    logger.info({ orderId: "1" }, "first");
    logger.child({ service: "payments" }).info({ paymentId: "p" }, "second");
    logger.info("third");
    expect(lines.map(({ time: _time, pid: _pid, ...rest }) => rest)).toEqual([
      { level: 30, app: "t", orderId: "1", msg: "first" },
      { level: 30, app: "t", service: "payments", paymentId: "p", msg: "second" },
      { level: 30, app: "t", msg: "third" },
    ]);
  });
});
