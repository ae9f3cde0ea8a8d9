import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

/** Deletes every stream whose name starts with `prefix` (their consumers go with them). */
export async function deleteStreams(url: string, prefix: string): Promise<void> {
  const connection = await connect({ servers: url, timeout: 5_000 });
  try {
    const manager = await jetstreamManager(connection, { timeout: 5_000 });
    const names: string[] = [];
    for await (const name of manager.streams.names()) {
      if (name.startsWith(prefix)) {
        names.push(name);
      }
    }
    await Promise.all(names.map((name) => manager.streams.delete(name)));
  } finally {
    await connection.close();
  }
}
