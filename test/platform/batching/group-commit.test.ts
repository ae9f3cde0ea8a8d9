import { describe, expect, it } from "vitest";
import { GroupCommit } from "../../../src/platform/batching/group-commit.js";
import { TokenBucket } from "../../../src/platform/batching/token-bucket.js";

describe("group commit", () => {
  it("serves many concurrent submitters with few flushes and resolves each after its batch", async () => {
    const flushed: number[][] = [];
    const commit = new GroupCommit<number>(async (items) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      flushed.push([...items]);
    });
    await Promise.all(Array.from({ length: 1000 }, (_, i) => commit.submit(i)));
    expect(flushed.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(flushed.length).toBeLessThan(10);
  });

  it("rejects every submitter of a failed batch, and later batches still run", async () => {
    let fail = true;
    const commit = new GroupCommit<number>(async () => {
      if (fail) throw new Error("disk full");
    });
    const results = await Promise.allSettled([commit.submit(1), commit.submit(2)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    await expect(commit.submit(3)).resolves.toBeUndefined();
  });
});

describe("token bucket", () => {
  it("paces takes to the rate once the burst allowance is spent", async () => {
    let now = 0;
    const bucket = new TokenBucket(100, 10, () => now);
    await bucket.take(10); // the burst
    const waiting = bucket.take(5);
    let done = false;
    void waiting.then(() => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(done).toBe(false); // virtual clock has not moved: no tokens yet
    now += 50; // 50 ms at 100/s = 5 tokens
    await waiting;
    expect(done).toBe(true);
  });
});
