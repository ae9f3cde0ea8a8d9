import type { RedisClient } from "../redis/lua-script.js";
import type { Broadcast } from "./broadcast.js";

/**
 * Redis pub/sub (on a cluster, PUBLISH reaches subscribers on every node). A subscribed connection
 * can do nothing else, hence the two. ioredis subscribes again by itself after a reconnect;
 * messages published while a subscriber was disconnected are lost, as the port allows.
 */
export class RedisBroadcast implements Broadcast {
  private readonly handlers = new Map<string, ((message: string) => void)[]>();

  constructor(
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
    /** Before every channel name, so deployments can share a server. */
    private readonly prefix: string,
  ) {
    subscriber.on("message", (channel: string, message: string) => {
      for (const handler of this.handlers.get(channel) ?? []) handler(message);
    });
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.publisher.publish(this.prefix + channel, message);
  }

  subscribe(channel: string, handler: (message: string) => void): void {
    const name = this.prefix + channel;
    const list = this.handlers.get(name);
    if (list) {
      list.push(handler);
      return;
    }
    this.handlers.set(name, [handler]);
    // Rejected only while disconnected; ioredis re-subscribes every channel after it reconnects.
    void this.subscriber.subscribe(name).catch(() => {});
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.subscriber.disconnect();
    this.publisher.disconnect();
  }
}
