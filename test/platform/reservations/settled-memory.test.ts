import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { MemoryReservationBook } from "../../../src/platform/reservations/memory-reservation-book.js";

const HOUR = 3_600_000;
const ORDERS = 200_000;
const BUYERS = 2_000;

/** A forced full GC, without starting the test process with --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

function heapAfterGc(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/**
 * The ledger keeps what is live: a settled (confirmed) reservation leaves only its units in the
 * sale's totals and two entries in the holders filter. Before this rule it kept about 400 bytes
 * per order for the life of the process (issue 17). The bound asserted here is loose (64 bytes)
 * so that GC noise cannot fail it; the soak bench measures the real figure.
 */
describe("the in-process reservation book's memory", () => {
  it("does not grow with settled orders, and sweeps only what is due", async () => {
    const book = new MemoryReservationBook();
    await book.defineSale({
      sku: "SOAK",
      stock: 10_000_000,
      perUserLimit: 1_000,
      startsAt: new Date(Date.now() - HOUR).toISOString(),
      endsAt: new Date(Date.now() + HOUR).toISOString(),
    });
    const settle = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const orderId = String(i + 1);
        const decision = await book.reserve(
          { orderId, sku: "SOAK", userId: `u${i % BUYERS}`, quantity: 1, idempotencyKey: `k${i}` },
          HOUR,
        );
        expect(decision.kind).toBe("reserved");
        await book.transition("confirm", { orderId, sku: "SOAK" });
      }
    };
    // The first orders fill the per-buyer holdings (one entry per buyer: what the limit needs).
    await settle(0, BUYERS * 2);
    const before = heapAfterGc();
    await settle(BUYERS * 2, ORDERS);
    const after = heapAfterGc();
    const perOrder = (after - before) / (ORDERS - BUYERS * 2);
    expect(perOrder).toBeLessThan(64);
    expect(await book.levels("SOAK")).toMatchObject({ sold: ORDERS, reserved: 0 });
    expect(await book.expired(10)).toEqual([]);
    // Replays of settled keys are still recognised (the record decides how to answer them).
    expect(
      await book.reserve(
        { orderId: "x", sku: "SOAK", userId: "u7", quantity: 1, idempotencyKey: "k7" },
        HOUR,
      ),
    ).toEqual({ kind: "maybe_settled" });
  }, 120_000);
});
