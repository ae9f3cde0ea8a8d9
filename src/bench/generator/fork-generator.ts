import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { REPOSITORY_ROOT, TYPESCRIPT_EXEC_ARGV, trackChild } from "../target/child-process.js";
import type {
  GeneratorJob,
  GeneratorMessage,
  GeneratorProgress,
  GeneratorResult,
  ParentMessage,
} from "./messages.js";

const GENERATOR_MAIN = fileURLToPath(new URL("./generator-process.ts", import.meta.url));
/** Starting a TypeScript child takes a second or two on a busy 2-core machine; allow for it. */
const STARTUP_ALLOWANCE_MS = 30_000;

/**
 * Runs a generator job in its own process and resolves with its result. The child is killed if
 * it has not answered by the job's deadline plus a start-up allowance, so a wedged generator can
 * never hang the bench.
 */
export function runGeneratorProcess(
  job: GeneratorJob,
  onProgress: (progress: GeneratorProgress) => void,
  onStarted: () => void = () => {},
): Promise<GeneratorResult> {
  const child = fork(GENERATOR_MAIN, [], {
    cwd: REPOSITORY_ROOT,
    execArgv: [...TYPESCRIPT_EXEC_ARGV],
    // Its stdout goes to our stderr: with --json-only, stdout must carry the JSON and nothing else.
    stdio: ["ignore", "pipe", "inherit", "ipc"],
    serialization: "advanced",
  });
  child.stdout?.pipe(process.stderr, { end: false });
  trackChild(child);
  return new Promise<GeneratorResult>((resolve, reject) => {
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(killer);
      outcome();
    };
    const killer = setTimeout(() => {
      child.kill("SIGKILL");
      settle(() =>
        reject(
          new Error(`the load generator did not finish within ${job.deadlineMs + STARTUP_ALLOWANCE_MS} ms`),
        ),
      );
    }, job.deadlineMs + STARTUP_ALLOWANCE_MS);
    child.on("message", (message: GeneratorMessage) => {
      if (message.type === "started") onStarted();
      else if (message.type === "progress") onProgress(message.progress);
      else if (message.type === "result") settle(() => resolve(message.result));
      else settle(() => reject(new Error(`the load generator failed: ${message.message}`)));
    });
    child.once("error", (error) => settle(() => reject(error)));
    child.once("exit", (code, signal) =>
      settle(() =>
        reject(new Error(`the load generator exited (${signal ?? code}) before reporting a result`)),
      ),
    );
    child.send({ type: "run", job } satisfies ParentMessage);
  });
}
