import { afterEach, describe, expect, it } from "vitest";
import { LeasedSnowflakeGenerator } from "../../../src/platform/ids/leased-snowflake-generator.js";
import { parseSnowflake } from "../../../src/platform/ids/snowflake.js";
import { WorkerIdLeaseLostError } from "../../../src/platform/ids/worker-id-errors.js";
import { WORKER_ID_COUNT, type WorkerIdLeases } from "../../../src/platform/ids/worker-id-leases.js";
import { eventually } from "../../support/test-server.js";

/**
 * One set of leases, empty at first (a schema, a key prefix, a directory of its own), which
 * several store instances may open, as several processes would.
 */
export interface LeaseNamespace {
  open(): Promise<WorkerIdLeases>;
  /** Deletes whatever the leases wrote. */
  remove(): Promise<void>;
}

/** Long enough to outlive any test. */
const LONG_TTL_MS = 120_000;
/** Short enough to wait out; long enough that a lease read back at once is still live. */
const SHORT_TTL_MS = 1000;

/**
 * What every WorkerIdLeases adapter must do (src/platform/ids/worker-id-leases.ts), and what the
 * leased generator does on top of it. `newNamespace` is called once per test.
 */
export function describeWorkerIdLeasesConformance(
  name: string,
  newNamespace: () => Promise<LeaseNamespace>,
): void {
  describe(`WorkerIdLeases conformance: ${name}`, () => {
    const cleanup: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    /** A fresh namespace, and `count` stores opened on it; all removed after the test. */
    async function stores(count: number): Promise<WorkerIdLeases[]> {
      const namespace = await newNamespace();
      cleanup.push(() => namespace.remove());
      const opened: WorkerIdLeases[] = [];
      for (let i = 0; i < count; i++) {
        const store = await namespace.open();
        cleanup.push(() => store.close());
        opened.push(store);
      }
      return opened;
    }

    it("gives 64 holders the 64 ids, lowest first, and the 65th none", async () => {
      const [store] = await stores(1);
      const ids: number[] = [];
      for (let holder = 0; holder < WORKER_ID_COUNT; holder++) {
        const acquired = await store!.acquire(`holder-${holder}`, LONG_TTL_MS);
        expect(acquired?.previousMintedUntilMs).toBeUndefined();
        ids.push(acquired!.workerId);
      }
      expect(ids).toEqual(Array.from({ length: WORKER_ID_COUNT }, (_, id) => id));
      expect(await store!.acquire("holder-64", LONG_TTL_MS)).toBeUndefined();
    });

    it("never gives one id to two of 65 concurrent takers on separate connections", async () => {
      const opened = await stores(4);
      const results = await Promise.all(
        Array.from({ length: WORKER_ID_COUNT + 1 }, (_, holder) =>
          opened[holder % opened.length]!.acquire(`holder-${holder}`, LONG_TTL_MS),
        ),
      );
      const ids = results.flatMap((result) => (result ? [result.workerId] : []));
      expect(ids).toHaveLength(WORKER_ID_COUNT);
      expect(new Set(ids).size).toBe(WORKER_ID_COUNT);
      expect(results.filter((result) => result === undefined)).toHaveLength(1);
    });

    it("renews a lease for its holder only, and renewals keep it from being taken", async () => {
      const [store, other] = await stores(2);
      const { workerId } = (await store!.acquire("a", SHORT_TTL_MS))!;
      expect(await other!.renew(workerId, "b", SHORT_TTL_MS, 1)).toBe(false);
      // Renewed well within its time, for twice its lifetime: never free.
      for (let round = 0; round < 8; round++) {
        await sleep(SHORT_TTL_MS / 4);
        expect(await store!.renew(workerId, "a", SHORT_TTL_MS, 1)).toBe(true);
        expect((await other!.acquire(`b-${round}`, LONG_TTL_MS))?.workerId).not.toBe(workerId);
      }
    });

    it("takes over an expired lease with its bound, after which the old holder can neither renew nor release it", async () => {
      const [store, other] = await stores(2);
      const first = (await store!.acquire("a", SHORT_TTL_MS))!;
      const bound = Date.now() + 60_000;
      expect(await store!.renew(first.workerId, "a", SHORT_TTL_MS, bound)).toBe(true);
      // A live lease is not taken over: the next taker gets another id.
      const second = (await other!.acquire("b", LONG_TTL_MS))!;
      expect(second.workerId).not.toBe(first.workerId);

      await sleep(SHORT_TTL_MS + 300);
      const takeover = (await other!.acquire("c", LONG_TTL_MS))!;
      expect(takeover.workerId).toBe(first.workerId);
      expect(takeover.previousMintedUntilMs).toBe(bound);

      expect(await store!.renew(first.workerId, "a", LONG_TTL_MS, bound)).toBe(false);
      await store!.release(first.workerId, "a", 1);
      // Still c's: the next taker gets a third id, and c can renew.
      expect((await other!.acquire("d", LONG_TTL_MS))!.workerId).not.toBe(first.workerId);
      expect(await other!.renew(first.workerId, "c", LONG_TTL_MS, bound)).toBe(true);
    });

    it("frees a released id at once and hands its final bound to the next holder", async () => {
      const [store] = await stores(1);
      const first = (await store!.acquire("a", LONG_TTL_MS))!;
      await store!.release(first.workerId, "someone-else", 5);
      expect((await store!.acquire("b", LONG_TTL_MS))!.workerId).not.toBe(first.workerId);
      await store!.release(first.workerId, "a", 1_700_000_000_123);
      const next = (await store!.acquire("c", LONG_TTL_MS))!;
      expect(next).toEqual({ workerId: first.workerId, previousMintedUntilMs: 1_700_000_000_123 });
    });

    it("stops a generator whose lease cannot be renewed, and resumes it on a free id once its own was taken", async () => {
      const [real, other] = await stores(2);
      const store = new FlakyLeases(real!);
      const warnings: string[] = [];
      const timings = { ttlMs: 1500, renewEveryMs: 150, trustForMs: 600 };
      const generator = await LeasedSnowflakeGenerator.open(store, {
        timings,
        onWarning: (message) => warnings.push(message),
      });
      cleanup.push(() => generator.close());
      const firstWorker = generator.workerId!;
      const before = generator.next(3);
      expect(parseSnowflake(before)?.worker).toBe(firstWorker);

      store.unreachable = true;
      await eventually(async () => throwsLeaseLost(() => generator.next(3)), 2000, "minting to stop");
      const stoppedAt = Date.now();
      // It stopped before the store could give its id away...
      expect((await other!.acquire("intruder-early", LONG_TTL_MS))?.workerId).not.toBe(firstWorker);
      // ...which it can once the lease has run out.
      await sleep(Math.max(0, timings.ttlMs - (Date.now() - stoppedAt)));
      let intruder: number | undefined;
      await eventually(
        async () => {
          const acquired = await other!.acquire(`intruder-${Date.now()}`, LONG_TTL_MS);
          intruder = acquired?.workerId;
          return intruder === firstWorker;
        },
        5000,
        "another process to take the expired id",
      );
      store.unreachable = false;
      // The renewal now finds the id taken: the generator moves to a free id and mints again.
      await eventually(async () => !throwsLeaseLost(() => generator.next(3)), 3000, "minting to resume");
      const after = generator.next(3);
      expect(parseSnowflake(after)?.worker).not.toBe(firstWorker);
      expect(BigInt(after) > BigInt(before)).toBe(true);
      expect(warnings.join("\n")).toMatch(/could not renew/);
      expect(warnings.join("\n")).toMatch(/another process took it/);
    });
  });
}

/** Passes every call to the real store, except renewals while "unreachable" (a network outage). */
class FlakyLeases implements WorkerIdLeases {
  unreachable = false;
  readonly where: string;

  constructor(private readonly real: WorkerIdLeases) {
    this.where = real.where;
  }

  acquire(holder: string, ttlMs: number) {
    return this.real.acquire(holder, ttlMs);
  }

  async renew(workerId: number, holder: string, ttlMs: number, mintedUntilMs: number) {
    if (this.unreachable) throw new Error("connect ECONNREFUSED (simulated outage)");
    return this.real.renew(workerId, holder, ttlMs, mintedUntilMs);
  }

  release(workerId: number, holder: string, mintedUntilMs: number) {
    return this.real.release(workerId, holder, mintedUntilMs);
  }

  close() {
    return this.real.close();
  }
}

function throwsLeaseLost(mint: () => unknown): boolean {
  try {
    mint();
    return false;
  } catch (error) {
    if (error instanceof WorkerIdLeaseLostError) return true;
    throw error;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
