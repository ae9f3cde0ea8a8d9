import { connect } from "@nats-io/transport-node";
import { cacheUrlScheme } from "../cache/open-cache.js";
import { connectRedis } from "../cache/redis-cache.js";
import type { Broadcast } from "./broadcast.js";
import { LocalBroadcast } from "./local-broadcast.js";
import { NatsBroadcast } from "./nats-broadcast.js";
import { RedisBroadcast } from "./redis-broadcast.js";

export interface BroadcastOptions {
  /** Before every channel or subject. */
  readonly prefix: string;
  readonly onError?: (error: Error) => void;
}

/** `memory://`/unset: this process; `redis://`, `redis-cluster://`: Redis pub/sub; `nats://`: NATS. */
export async function openBroadcast(url: string | undefined, options: BroadcastOptions): Promise<Broadcast> {
  const scheme = cacheUrlScheme(url);
  const onError = options.onError ? { onError: options.onError } : {};
  switch (scheme) {
    case "memory":
      return new LocalBroadcast();
    case "redis":
    case "redis-cluster": {
      const publisher = await connectRedis(url!, { commandTimeoutMs: 1000, ...onError });
      const subscriber = await connectRedis(url!, { commandTimeoutMs: 1000, ...onError }).catch(
        (error: unknown) => {
          publisher.disconnect();
          throw error;
        },
      );
      return new RedisBroadcast(publisher, subscriber, options.prefix);
    }
    case "nats": {
      const connection = await connect({
        servers: url!,
        name: "floodgate-broadcast",
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        timeout: 2000,
        noAsyncTraces: true,
      });
      return new NatsBroadcast(connection, `${options.prefix}.`);
    }
    default:
      throw new Error(
        `broadcast URL scheme ${String(scheme)}:// is not one of memory, redis, redis-cluster, nats`,
      );
  }
}
