import type { Broadcast } from "./broadcast.js";

/** Every service in this one process hears the message; no other process does. */
export class LocalBroadcast implements Broadcast {
  private readonly handlers = new Map<string, ((message: string) => void)[]>();

  async publish(channel: string, message: string): Promise<void> {
    for (const handler of this.handlers.get(channel) ?? []) {
      // As a remote adapter would: later, and a throwing handler does not reach the publisher.
      queueMicrotask(() => handler(message));
    }
  }

  subscribe(channel: string, handler: (message: string) => void): void {
    const list = this.handlers.get(channel);
    if (list) list.push(handler);
    else this.handlers.set(channel, [handler]);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
