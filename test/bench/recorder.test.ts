import { describe, expect, it } from "vitest";
import { errorCodeOf, Recorder } from "../../src/bench/generator/recorder.js";

describe("Recorder", () => {
  it("counts statuses, error codes from the body, and failures (no answer or 5xx) apart from refusals", () => {
    const recorder = new Recorder(10_000, 0);
    recorder.response("order", 202, 5, '{"orderId":"1","status":"pending"}');
    recorder.response("order", 409, 2, '{"error":{"code":"sold_out","message":"…"}}');
    recorder.response("order", 409, 2, '{"error":{"code":"sold_out","message":"…"}}');
    recorder.response("order", 503, 9, '{"error":{"code":"not_accepted","message":"…"}}');
    recorder.response("browse", 502, 9, "<html>bad gateway</html>");
    recorder.transportError("ECONNRESET");
    expect(recorder.statusCounts()).toEqual({ "202": 1, "409": 2, "502": 1, "503": 1 });
    expect(recorder.errorCodes()).toEqual({ sold_out: 2, not_accepted: 1, not_json: 1 });
    expect(recorder.transportErrors()).toEqual({ ECONNRESET: 1 });
    expect(recorder.completed).toBe(5);
    expect(recorder.errors).toBe(3);
    expect(recorder.latencyByKind().order?.count).toBe(4);
    expect(recorder.latencyByKind().browse?.count).toBe(1);
    expect(recorder.latency().count).toBe(5);
  });

  it("closes one series point per interval with that interval's rate and percentiles", () => {
    const recorder = new Recorder(10_000, 1000);
    for (let i = 0; i < 10; i++) recorder.response("browse", 200, 4, "");
    recorder.closeInterval(2000);
    recorder.response("browse", 200, 100, "");
    recorder.closeInterval(2500);
    recorder.closeInterval(2500);
    const [first, second] = recorder.series();
    expect(recorder.series()).toHaveLength(2);
    expect(first).toMatchObject({ at: 2000, completed: 10, errors: 0, requestsPerSecond: 10 });
    expect(first!.p99).toBeCloseTo(4, 2);
    expect(second).toMatchObject({ at: 2500, completed: 1, requestsPerSecond: 2 });
    expect(second!.max).toBeCloseTo(100, 1);
  });

  it("reads error.code, and says why when there is none", () => {
    expect(errorCodeOf('{"error":{"code":"limit_exceeded"}}')).toBe("limit_exceeded");
    expect(errorCodeOf('{"status":"not_ready"}')).toBe("no_error_code");
    expect(errorCodeOf("null")).toBe("no_error_code");
    expect(errorCodeOf("")).toBe("not_json");
  });
});
