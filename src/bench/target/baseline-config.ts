import type { Server } from "node:http";
/** How a baseline server child is configured (passed as its first argument, as JSON). */
export type BaselineConfig =
  | { readonly kind: "ceiling" }
  | {
      readonly kind: "naive";
      readonly authSecret: string;
      /** Stock rows to create: the measured SKU, and the warm-up's when there is one. */
      readonly stock: readonly { readonly sku: string; readonly units: number }[];
      /** postgres:// URL of the server to use, or null for PGlite in `dataDir`. */
      readonly databaseUrl: string | null;
      readonly dataDir: string;
    };

/** What a baseline child sends over IPC once it listens. */
export interface BaselineReady {
  readonly type: "ready";
  readonly port: number;
}

export function parseBaselineConfig(argument: string | undefined): BaselineConfig {
  if (argument === undefined)
    throw new Error("a baseline server needs its configuration as the first argument");
  return JSON.parse(argument) as BaselineConfig;
}

/**
 * Listens on a free loopback port, tells the parent which, and on SIGTERM or SIGINT closes the
 * server (connections first) and then runs `cleanUp`.
 */
export function serveUntilStopped(server: Server, cleanUp: () => Promise<void> = async () => {}): void {
  server.keepAliveTimeout = 30_000;
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : 0;
    announceAndAwaitStop(port, async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await cleanUp();
    });
  });
}

/** Tells the parent the port, then stops gracefully on SIGTERM or SIGINT. */
function announceAndAwaitStop(port: number, stop: () => Promise<void>): void {
  process.send?.({ type: "ready", port } satisfies BaselineReady);
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`stopping failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
