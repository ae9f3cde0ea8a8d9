import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Baseline } from "../options.js";
import type { BaselineConfig, BaselineReady } from "./baseline-config.js";
import {
  captureOutput,
  REPOSITORY_ROOT,
  stopChild,
  TYPESCRIPT_EXEC_ARGV,
  trackChild,
} from "./child-process.js";
import type { RunningTarget } from "./running-target.js";

const SERVER_MODULES: Readonly<Record<Exclude<Baseline, "uncached">, string>> = {
  ceiling: fileURLToPath(new URL("./ceiling-server.ts", import.meta.url)),
  naive: fileURLToPath(new URL("./naive-server.ts", import.meta.url)),
};
const READY_TIMEOUT_MS = 60_000;

/** Forks a baseline server and resolves once it listens (it reports its port over IPC). */
export async function startBaselineTarget(config: BaselineConfig): Promise<RunningTarget> {
  const child = fork(SERVER_MODULES[config.kind], [JSON.stringify(config)], {
    cwd: REPOSITORY_ROOT,
    execArgv: [...TYPESCRIPT_EXEC_ARGV],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" },
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  trackChild(child);
  const output = captureOutput(child);
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`the ${config.kind} baseline did not start within ${READY_TIMEOUT_MS} ms:\n${output()}`),
      );
    }, READY_TIMEOUT_MS);
    child.once("message", (message: BaselineReady) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`the ${config.kind} baseline exited (${signal ?? code}) while starting:\n${output()}`),
      );
    });
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid ?? null, output, stop: () => stopChild(child) };
}
