import { afterEach, describe, expect, it } from "vitest";
import { createHttpServer } from "../../../src/platform/http/server.js";
import { LeasedSnowflakeGenerator } from "../../../src/platform/ids/leased-snowflake-generator.js";
import { parseSnowflake, SNOWFLAKE_EPOCH_MS } from "../../../src/platform/ids/snowflake.js";
import { NoFreeWorkerIdError, WorkerIdLeaseLostError } from "../../../src/platform/ids/worker-id-errors.js";
import type { AcquiredWorkerId, WorkerIdLeases } from "../../../src/platform/ids/worker-id-leases.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";

/** A scripted store: one id on offer (once), renewals that can be made to fail, every call recorded. */
class ScriptedLeases implements WorkerIdLeases {
  readonly where = "a scripted store";
  renewals: { workerId: number; mintedUntilMs: number }[] = [];
  releases: { workerId: number; mintedUntilMs: number }[] = [];
  renewAnswer: boolean | Error = true;

  constructor(private offer: AcquiredWorkerId | undefined) {}

  async acquire(): Promise<AcquiredWorkerId | undefined> {
    const offer = this.offer;
    this.offer = undefined;
    return offer;
  }

  async renew(workerId: number, _holder: string, _ttlMs: number, mintedUntilMs: number): Promise<boolean> {
    this.renewals.push({ workerId, mintedUntilMs });
    if (this.renewAnswer instanceof Error) throw this.renewAnswer;
    return this.renewAnswer;
  }

  async release(workerId: number, _holder: string, mintedUntilMs: number): Promise<void> {
    this.releases.push({ workerId, mintedUntilMs });
  }

  async close(): Promise<void> {}
}

const QUICK = { ttlMs: 300, renewEveryMs: 50, trustForMs: 150 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("LeasedSnowflakeGenerator", () => {
  const opened: LeasedSnowflakeGenerator[] = [];
  afterEach(async () => {
    for (const generator of opened.splice(0)) await generator.close();
  });
  const open = async (
    store: WorkerIdLeases,
    options: Parameters<typeof LeasedSnowflakeGenerator.open>[1] = {},
  ) => {
    const generator = await LeasedSnowflakeGenerator.open(store, { timings: QUICK, ...options });
    opened.push(generator);
    return generator;
  };

  it("mints with the leased worker id", async () => {
    const generator = await open(new ScriptedLeases({ workerId: 42, previousMintedUntilMs: undefined }));
    expect(generator.workerId).toBe(42);
    expect(parseSnowflake(generator.next(7))).toMatchObject({ worker: 42, shard: 7 });
  });

  it("refuses to start when every id is leased, naming FLOODGATE_WORKER_ID", async () => {
    const attempt = LeasedSnowflakeGenerator.open(new ScriptedLeases(undefined), { timings: QUICK });
    await expect(attempt).rejects.toThrow(NoFreeWorkerIdError);
    await expect(attempt).rejects.toThrow(
      /all 64 snowflake worker ids are leased on a scripted store.*FLOODGATE_WORKER_ID/,
    );
  });

  it("continues after the previous holder's bound, so a clock behind that holder's repeats none of its ids", async () => {
    const clock = SNOWFLAKE_EPOCH_MS + 1_000_000;
    const previousMintedUntilMs = clock + 60_000;
    // Timings of production length: 3000 ids in one synchronous loop leave no turn for a renewal.
    const generator = await open(new ScriptedLeases({ workerId: 5, previousMintedUntilMs }), {
      now: () => clock,
      timings: { ttlMs: 20_000, renewEveryMs: 5_000, trustForMs: 15_000 },
    });
    for (let i = 0; i < 3000; i++) {
      expect(parseSnowflake(generator.next(1))!.timestampMs).toBeGreaterThan(previousMintedUntilMs);
    }
  });

  it("records a bound on renewal that covers every id it may mint before the store could give the id away", async () => {
    const store = new ScriptedLeases({ workerId: 3, previousMintedUntilMs: undefined });
    const generator = await open(store);
    generator.next(0);
    const before = Date.now();
    await sleep(QUICK.renewEveryMs * 3);
    const last = store.renewals.at(-1)!;
    expect(last.workerId).toBe(3);
    expect(last.mintedUntilMs).toBeGreaterThanOrEqual(before + QUICK.ttlMs);
  });

  it("records exactly the newest timestamp it minted when it releases the id", async () => {
    const store = new ScriptedLeases({ workerId: 9, previousMintedUntilMs: undefined });
    const clock = SNOWFLAKE_EPOCH_MS + 5_000_000;
    const generator = await LeasedSnowflakeGenerator.open(store, { timings: QUICK, now: () => clock });
    const newest = parseSnowflake(generator.next(0))!.timestampMs;
    await generator.close();
    expect(store.releases).toEqual([{ workerId: 9, mintedUntilMs: newest }]);
    expect(() => generator.next(0)).toThrow(WorkerIdLeaseLostError);
  });

  it("stops minting once renewals have failed for trustForMs, and resumes when one succeeds", async () => {
    const store = new ScriptedLeases({ workerId: 1, previousMintedUntilMs: undefined });
    const generator = await open(store);
    store.renewAnswer = new Error("connection refused");
    const failingSince = Date.now();
    await sleep(QUICK.trustForMs + QUICK.renewEveryMs);
    let refusal: unknown;
    try {
      generator.next(0);
    } catch (error) {
      refusal = error;
    }
    expect(
      refusal,
      `still minting ${Date.now() - failingSince} ms after renewals began to fail`,
    ).toBeInstanceOf(WorkerIdLeaseLostError);
    expect(refusal).toMatchObject({ code: "unavailable", status: 503, retryAfterSeconds: 1 });
    expect((refusal as Error).message).toMatch(/could not be renewed in time/);

    store.renewAnswer = true;
    await sleep(QUICK.renewEveryMs * 3);
    expect(parseSnowflake(generator.next(0))?.worker).toBe(1);
  });

  it("answers 503 unavailable with Retry-After when a request needs an id it may not mint", async () => {
    const store = new ScriptedLeases({ workerId: 1, previousMintedUntilMs: undefined });
    const generator = await open(store, { timings: { ttlMs: 3000, renewEveryMs: 1000, trustForMs: 2000 } });
    store.renewAnswer = false; // another process took the id over
    await sleep(1200);
    const app = createHttpServer({
      logger: createLogger("silent"),
      metrics: new Metrics(),
      bodyLimitBytes: 1024,
      isReady: () => true,
    });
    app.post("/things", async () => ({ id: generator.next(0) }));
    try {
      const response = await app.inject({ method: "POST", url: "/things" });
      expect(response.statusCode).toBe(503);
      expect(response.headers["retry-after"]).toBe("1");
      expect(response.json()).toMatchObject({ error: { code: "unavailable" } });
      expect(response.json().error.message).toMatch(/another process took over its worker id 1/);
    } finally {
      await app.close();
    }
  });
});
