import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "../../src/bench/target/child-process.js";

/** One free-port helper for the bench and the tests. */
export { freePort };

const BIN = fileURLToPath(new URL("../../bin/floodgate.mjs", import.meta.url));

export interface ChildServer {
  readonly process: ChildProcess;
  readonly url: string;
  /** Everything the child wrote, for failure messages. */
  output(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Runs `floodgate <args>` as a real child process and waits until /readyz answers 200. */
export async function startChildServer(
  args: string[],
  env: Record<string, string>,
  port: number,
  /** How long it may take to answer /readyz: longer where many processes start at once. */
  readyWithinMs = 60_000,
): Promise<ChildServer> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      // Tests run development unless they say otherwise: production (implied by any server URL)
      // would want a configured secret and internal ports, which a test of something else need not set.
      FLOODGATE_ENV: "development",
      ...env,
      FLOODGATE_PORT: String(port),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyWithinMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`floodgate exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`floodgate did not become ready:\n${output}`);
    }
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    process: child,
    url,
    output: () => output,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
