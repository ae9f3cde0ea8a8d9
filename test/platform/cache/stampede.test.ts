import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { serverAvailable, servers } from "../../support/infra.js";

const CHILD = fileURLToPath(new URL("./fixtures/stampede-child.ts", import.meta.url));

function runChild(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.once("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`child exited ${code}: ${err}`)),
    );
  });
}

describe("cache breakdown across processes", async () => {
  const up = await serverAvailable("redis");

  it.skipIf(!up)("1,000 concurrent misses on one key in two processes run the loader once", async () => {
    const prefix = `stampede-${randomUUID().slice(0, 8)}:`;
    const startAt = String(Date.now() + 4000); // both children are up and connected by then
    const outputs = await Promise.all([
      runChild([servers.redis.url, prefix, startAt]),
      runChild([servers.redis.url, prefix, startAt]),
    ]);
    const results = outputs.map((output) => JSON.parse(output) as { startedAt: number; distinct: string[] });
    for (const result of results) expect(result.distinct).toEqual(["the-value"]);
    // Both bursts really overlapped the one load (150 ms), or the test would prove nothing.
    expect(Math.abs(results[0]!.startedAt - results[1]!.startedAt)).toBeLessThan(100);
    const redis = new Redis(servers.redis.url);
    try {
      expect(await redis.get(`${prefix}loads`)).toBe("1");
    } finally {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
