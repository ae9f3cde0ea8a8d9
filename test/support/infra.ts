import { Socket } from "node:net";

/**
 * Infrastructure tests talk to real servers on 127.0.0.1. Locally a missing server skips them;
 * with FLOODGATE_REQUIRE_INFRA=1 (set by .ci/run) a missing server fails the run instead, so CI
 * can never go green by skipping.
 */
export const infraRequired = process.env.FLOODGATE_REQUIRE_INFRA === "1";

export const servers = {
  postgres: { host: "127.0.0.1", port: 5432, url: "postgres://root@127.0.0.1:5432/test" },
  redis: { host: "127.0.0.1", port: 6379, url: "redis://127.0.0.1:6379" },
  nats: { host: "127.0.0.1", port: 4222, url: "nats://127.0.0.1:4222" },
} as const;

export function isListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (up: boolean) => {
      socket.destroy();
      resolve(up);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("error", () => done(false));
    socket.connect(port, host, () => done(true));
  });
}

/**
 * Resolves to true when the server is up. When it is down: throws if infrastructure is required,
 * otherwise returns false so the caller can `describe.skipIf(!up)`.
 */
export async function serverAvailable(name: keyof typeof servers): Promise<boolean> {
  const { host, port } = servers[name];
  const up = await isListening(host, port);
  if (!up && infraRequired) {
    throw new Error(`${name} is not listening on ${host}:${port} and FLOODGATE_REQUIRE_INFRA=1`);
  }
  return up;
}
