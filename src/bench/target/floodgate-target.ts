import { spawn } from "node:child_process";
import { join } from "node:path";
import {
  captureOutput,
  freePort,
  REPOSITORY_ROOT,
  stopChild,
  trackChild,
  waitUntilReady,
} from "./child-process.js";
import type { RunningTarget } from "./running-target.js";

const FLOODGATE_BIN = join(REPOSITORY_ROOT, "bin", "floodgate.mjs");

export interface FloodgateTargetOptions {
  /** A fresh, empty directory: every run starts from nothing. */
  readonly dataDir: string;
  readonly authSecret: string;
  readonly writeRate: number;
  readonly batchSize: number;
  /** A fresh directory for `node --cpu-prof` to write into, or null for no profiling. */
  readonly cpuProfileDir: string | null;
  /** Flags for the target's node, before the script (e.g. --expose-gc for the soak's heap reads). */
  readonly nodeFlags?: readonly string[];
  /** Extra FLOODGATE_* settings (--target-env); the bench's own settings below win. */
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Starts `node bin/floodgate.mjs start` as a child process, exactly as a user would, with only
 * the settings the bench chooses: the environment is built from scratch so a FLOODGATE_* variable
 * in the caller's shell cannot change what is measured.
 */
export async function startFloodgateTarget(options: FloodgateTargetOptions): Promise<RunningTarget> {
  const port = await freePort();
  // No --cpu-prof-name: Node writes one profile per thread (tsx's module hooks run on a thread of
  // their own), and a fixed name would let that thread's profile overwrite the main thread's.
  const profiling = options.cpuProfileDir ? ["--cpu-prof", "--cpu-prof-dir", options.cpuProfileDir] : [];
  const child = spawn(
    process.execPath,
    [...(options.nodeFlags ?? []), ...profiling, FLOODGATE_BIN, "start"],
    {
      cwd: REPOSITORY_ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        // A bench is one machine's loopback, with the bundled payment simulator: development,
        // even with server URLs (which would imply production), unless --target-env says otherwise.
        FLOODGATE_ENV: "development",
        ...options.env,
        FLOODGATE_DATA_DIR: options.dataDir,
        FLOODGATE_SEED_DEMO: "false",
        FLOODGATE_AUTH_SECRET: options.authSecret,
        FLOODGATE_LOG_LEVEL: "warn",
        FLOODGATE_HOST: "127.0.0.1",
        FLOODGATE_PORT: String(port),
        FLOODGATE_ORDER_WRITE_RATE: String(options.writeRate),
        FLOODGATE_ORDER_BATCH_SIZE: String(options.batchSize),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  trackChild(child);
  const output = captureOutput(child);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(url, child, output);
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return { url, pid: child.pid ?? null, output, stop: () => stopChild(child) };
}
