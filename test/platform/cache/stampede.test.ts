import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { serverAvailable, servers } from "../../support/infra.js";

const CHILD = fileURLToPath(new URL("./fixtures/stampede-child.ts", import.meta.url));

/** Starts the child; `ready` resolves when it is connected, `result` with its final line. */
function startChild(args: string[]): { ready: Promise<void>; result: Promise<string> } {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
    if (out.startsWith("ready\n")) onReady();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    err += chunk.toString();
  });
  const result = new Promise<string>((resolve, reject) =>
    child.once("exit", (code) =>
      code === 0 ? resolve(out.slice("ready\n".length)) : reject(new Error(`child exited ${code}: ${err}`)),
    ),
  );
  return { ready, result };
}

describe("cache breakdown across processes", async () => {
  const up = await serverAvailable("redis");

  it.skipIf(!up)("1,000 concurrent misses on one key in two processes run the loader once", async () => {
    const prefix = `stampede-${randomUUID().slice(0, 8)}:`;
    const redis = new Redis(servers.redis.url);
    try {
      const children = [startChild([servers.redis.url, prefix]), startChild([servers.redis.url, prefix])];
      await Promise.all(children.map((child) => child.ready));
      await redis.rpush(`${prefix}go`, "go", "go");
      const results = (await Promise.all(children.map((child) => child.result))).map(
        (output) => JSON.parse(output) as { startedAt: number; distinct: string[] },
      );
      for (const result of results) expect(result.distinct).toEqual(["the-value"]);
      // Both bursts really overlapped the one load (150 ms), or the test would prove nothing.
      expect(Math.abs(results[0]!.startedAt - results[1]!.startedAt)).toBeLessThan(100);
      expect(await redis.get(`${prefix}loads`)).toBe("1");
    } finally {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
