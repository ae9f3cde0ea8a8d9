import { fileURLToPath } from "node:url";
import { LuaScript, type RedisClient } from "../redis/lua-script.js";
import { type AcquiredWorkerId, WORKER_ID_COUNT, type WorkerIdLeases } from "./worker-id-leases.js";

const script = (name: string) => new LuaScript(fileURLToPath(new URL(name, import.meta.url)));
const acquireScript = script("./worker-id-acquire-2.lua");
const renewScript = script("./worker-id-renew-2.lua");
const releaseScript = script("./worker-id-release-2.lua");

/**
 * Every key the leases use. The id is a hash tag, so a lease and its bound share a cluster slot
 * and one script can touch both.
 */
export function workerIdLeaseKeys(prefix: string, workerId: number): [lease: string, mintedUntil: string] {
  const lease = `${prefix}ids:worker:{${workerId}}`;
  return [lease, `${lease}:minted-until`];
}

/**
 * Worker-id leases as Redis keys: `SET NX PX` takes one, a compare-and-PEXPIRE script renews it,
 * and Redis's own expiry frees it, so the processes' clocks need not agree. Works on a single
 * server or a cluster. A Redis that loses writes (no `appendfsync always`, or eviction) can lose
 * a live lease and hand its id to a second process: see docs/operations.md.
 */
export class RedisWorkerIdLeases implements WorkerIdLeases {
  constructor(
    /** A connection of its own: `close` disconnects it. */
    private readonly redis: RedisClient,
    /** Before every key, so deployments can share a server. */
    private readonly prefix: string,
    /** Which server this is, for messages (never a password): `the stock Redis`. */
    readonly where: string,
  ) {}

  async acquire(holder: string, ttlMs: number): Promise<AcquiredWorkerId | undefined> {
    for (let workerId = 0; workerId < WORKER_ID_COUNT; workerId++) {
      const reply = (await acquireScript.run(this.redis, workerIdLeaseKeys(this.prefix, workerId), [
        holder,
        Math.ceil(ttlMs),
      ])) as [string, string?];
      if (reply[0] === "acquired") {
        const previous = reply[1];
        return { workerId, previousMintedUntilMs: previous ? Number(previous) : undefined };
      }
    }
    return undefined;
  }

  async renew(workerId: number, holder: string, ttlMs: number, mintedUntilMs: number): Promise<boolean> {
    const reply = await renewScript.run(this.redis, workerIdLeaseKeys(this.prefix, workerId), [
      holder,
      Math.ceil(ttlMs),
      Math.ceil(mintedUntilMs),
    ]);
    return reply === "renewed";
  }

  async release(workerId: number, holder: string, mintedUntilMs: number): Promise<void> {
    await releaseScript.run(this.redis, workerIdLeaseKeys(this.prefix, workerId), [
      holder,
      Math.ceil(mintedUntilMs),
    ]);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
