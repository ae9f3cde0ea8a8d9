import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { freePort } from "./child-server.js";
import { isListening } from "./infra.js";

/**
 * A server binary (redis-server, memcached) run as a child process of the test, on a loopback
 * port of its own, so a test can kill it and start it again without touching the machine's shared
 * servers.
 */
export interface SpawnedServer {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** The last few KB the server wrote, for failure messages. */
  output(): string;
  isRunning(): boolean;
  /** SIGKILL, then waits for the exit: an abrupt crash, as a real outage would be. */
  kill(): Promise<void>;
  /** Starts the same command again on the same port and waits until it accepts connections. */
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its connections open but answers nothing, like a hung server. */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
}

export interface SpawnOptions {
  readonly name: string;
  readonly command: string;
  /** The arguments for a given port; called again with the same port on restart. */
  readonly args: (port: number) => string[];
  readonly cwd?: string;
  readonly startTimeoutMs?: number;
}

/** True when `command` is an executable file in one of the PATH directories. */
export function commandOnPath(command: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const HOST = "127.0.0.1";
const OUTPUT_LIMIT = 8_192;
const POLL_INTERVAL_MS = 25;
/** Another process may take the free port between the probe and the spawn; try a new one. */
const START_ATTEMPTS = 3;

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Kills every child still running when the test process exits, so a crashed or interrupted test
 * file never leaves servers behind. `kill` is synchronous, as an 'exit' listener must be.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

export async function spawnServer(options: SpawnOptions): Promise<SpawnedServer> {
  installExitHook();
  let lastError: unknown;
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freePort();
    try {
      return await startOnPort(options, port);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

async function startOnPort(options: SpawnOptions, port: number): Promise<SpawnedServer> {
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = "";
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
  };
  const isRunning = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const start = async () => {
    const started = spawn(options.command, options.args(port), {
      cwd: options.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = started;
    running.add(started);
    exited = new Promise<void>((resolve) =>
      started.once("exit", () => {
        running.delete(started);
        resolve();
      }),
    );
    started.stdout?.on("data", append);
    started.stderr?.on("data", append);
    // A missing binary is reported as an 'error' event; without a listener it would crash the run.
    let spawnError: Error | undefined;
    started.once("error", (error) => {
      spawnError = error;
    });
    const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
    for (;;) {
      if (spawnError) throw new Error(`${options.name} could not start: ${spawnError.message}`);
      if (!isRunning()) throw new Error(`${options.name} on :${port} exited during start:\n${output}`);
      if (await isListening(HOST, port, 200)) return;
      if (Date.now() > deadline) {
        started.kill("SIGKILL");
        await exited;
        throw new Error(`${options.name} on :${port} did not accept connections in time:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  };

  const kill = async () => {
    if (isRunning()) child?.kill("SIGKILL");
    await exited;
  };

  await start();
  return {
    name: options.name,
    host: HOST,
    port,
    output: () => output,
    isRunning,
    kill,
    async restart() {
      await kill();
      await start();
    },
    pause() {
      if (!isRunning() || !child?.pid) return;
      child.kill("SIGSTOP");
      // The stop lands asynchronously (a threaded server may answer one more request meanwhile):
      // wait until the kernel reports the process stopped ("T" in /proc/<pid>/stat).
      const stat = `/proc/${child.pid}/stat`;
      const pause = new Int32Array(new SharedArrayBuffer(4));
      for (let i = 0; i < 200; i++) {
        try {
          if (/^\d+ \(.*\) T /.test(readFileSync(stat, "utf8"))) return;
        } catch {
          return;
        }
        Atomics.wait(pause, 0, 0, 5);
      }
    },
    resume() {
      if (isRunning()) child?.kill("SIGCONT");
    },
  };
}
