import type { NatsConnection } from "@nats-io/transport-node";
import type { Broadcast } from "./broadcast.js";

/** NATS core subjects (not JetStream: nothing is stored). The client resubscribes on reconnect. */
export class NatsBroadcast implements Broadcast {
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly connection: NatsConnection,
    /** Before every subject, so deployments can share a server. */
    private readonly prefix: string,
  ) {}

  async publish(channel: string, message: string): Promise<void> {
    this.connection.publish(this.prefix + channel, this.encoder.encode(message));
  }

  subscribe(channel: string, handler: (message: string) => void): void {
    this.connection.subscribe(this.prefix + channel, {
      callback: (error, message) => {
        if (!error) handler(message.string());
      },
    });
  }

  async close(): Promise<void> {
    await this.connection.drain().catch(() => this.connection.close());
  }
}
