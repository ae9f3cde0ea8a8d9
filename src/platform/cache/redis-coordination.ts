import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { LuaScript, type RedisClient } from "../redis/lua-script.js";
import {
  decodeRetirements,
  encodeRetirements,
  type InvalidationBus,
  type Retirement,
} from "./invalidation-bus.js";
import type { LoadLock } from "./load-lock.js";

const releaseScript = new LuaScript(fileURLToPath(new URL("./lock-release-1.lua", import.meta.url)));
const CHANNEL = "cache:invalidate";

/** Load locks as `SET key token NX PX ttl`, released by a compare-and-delete script. */
export class RedisLoadLock implements LoadLock {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  async tryAcquire(key: string, ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    const result = await this.redis.set(`${this.prefix}lock:${key}`, token, "PX", ttlMs, "NX");
    return result === "OK" ? token : undefined;
  }

  async release(key: string, token: string): Promise<void> {
    await releaseScript.run(this.redis, [`${this.prefix}lock:${key}`], [token]);
  }
}

/**
 * Invalidations over Redis pub/sub. Subscribing needs a connection of its own (a subscribed
 * connection can run no other command), which the caller provides and this bus owns.
 */
export class RedisInvalidationBus implements InvalidationBus {
  private readonly handlers: ((retirements: readonly Retirement[]) => void)[] = [];
  private readonly channel: string;

  constructor(
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    prefix: string,
  ) {
    this.channel = `${prefix}${CHANNEL}`;
    subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const retirements = decodeRetirements(message);
      if (retirements.length === 0) return;
      for (const handler of this.handlers) handler(retirements);
    });
    // ioredis re-subscribes by itself after a reconnect.
    void subscriber.subscribe(this.channel).catch(() => {});
  }

  async publish(retirements: readonly Retirement[]): Promise<void> {
    await this.publisher.publish(this.channel, encodeRetirements(retirements));
  }

  subscribe(handler: (retirements: readonly Retirement[]) => void): void {
    this.handlers.push(handler);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }
}
