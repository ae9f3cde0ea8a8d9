import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { LuaScript, type RedisClient } from "../redis/lua-script.js";
import type { InvalidationBus } from "./invalidation-bus.js";
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
  private readonly handlers: ((keys: readonly string[]) => void)[] = [];
  private readonly channel: string;

  constructor(
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    prefix: string,
  ) {
    this.channel = `${prefix}${CHANNEL}`;
    subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.channel) return;
      let keys: unknown;
      try {
        keys = JSON.parse(message);
      } catch {
        return;
      }
      if (!Array.isArray(keys)) return;
      for (const handler of this.handlers) handler(keys.filter((k): k is string => typeof k === "string"));
    });
    // ioredis re-subscribes by itself after a reconnect.
    void subscriber.subscribe(this.channel).catch(() => {});
  }

  async publish(keys: readonly string[]): Promise<void> {
    await this.publisher.publish(this.channel, JSON.stringify(keys));
  }

  subscribe(handler: (keys: readonly string[]) => void): void {
    this.handlers.push(handler);
  }

  async close(): Promise<void> {
    this.subscriber.disconnect();
  }
}
