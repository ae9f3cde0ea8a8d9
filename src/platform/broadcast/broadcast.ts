/**
 * Broadcast port: fire-and-forget messages to every process listening on a channel (pub/sub).
 * Delivery is best effort: a message may be lost (a disconnected subscriber, a restarting
 * server), so it may only speed things up — never be what correctness rests on. Adapters: this
 * process only, Redis pub/sub, NATS core subjects.
 */
export interface Broadcast {
  publish(channel: string, message: string): Promise<void>;
  /** Handlers run for messages published by any process, this one included. */
  subscribe(channel: string, handler: (message: string) => void): void;
  close(): Promise<void>;
}
