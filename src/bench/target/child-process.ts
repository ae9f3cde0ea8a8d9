import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** The repository root: children run from here, so `--import tsx` resolves and paths are stable. */
export const REPOSITORY_ROOT = fileURLToPath(new URL("../../../", import.meta.url)).replace(/\/$/, "");

/** Lets a forked child run TypeScript sources as bin/floodgate.mjs does (tsx), with no build step. */
export const TYPESCRIPT_EXEC_ARGV: readonly string[] = ["--import", "tsx"];

const READY_TIMEOUT_MS = 90_000;
const READY_POLL_MS = 100;
const STOP_TIMEOUT_MS = 30_000;
const OUTPUT_TAIL_CHARS = 16_000;

const runningChildren = new Set<ChildProcess>();
const temporaryDirectories = new Set<string>();
const interruptCleanups = new Set<() => Promise<unknown>>();
let signalsHandled = false;
/** How long an interrupted bench waits for its children to stop before removing their files. */
const INTERRUPT_GRACE_MS = 10_000;
/** How long it then waits for the runs' names on shared servers to be removed. */
const INTERRUPT_CLEANUP_MS = 15_000;

/**
 * Registers a child the bench started so that Ctrl-C (or SIGTERM) on the bench stops it too:
 * without this an interrupted bench would leave its target, baseline or generator running.
 */
export function trackChild(child: ChildProcess): void {
  runningChildren.add(child);
  child.once("exit", () => runningChildren.delete(child));
  handleSignals();
}

/** A directory to remove if the bench is interrupted (the run removes it itself otherwise). */
export function trackTemporaryDirectory(path: string): () => void {
  temporaryDirectories.add(path);
  handleSignals();
  return () => temporaryDirectories.delete(path);
}

/**
 * Work to do if the bench is interrupted, after its children stopped (removing a run's streams and
 * keys from shared servers); the run does it itself otherwise. Returns the function that forgets it.
 */
export function trackInterruptCleanup(cleanUp: () => Promise<unknown>): () => void {
  interruptCleanups.add(cleanUp);
  handleSignals();
  return () => interruptCleanups.delete(cleanUp);
}

function handleSignals(): void {
  if (signalsHandled) return;
  signalsHandled = true;
  const stopAll = (signal: NodeJS.Signals) => {
    const children = [...runningChildren];
    process.stderr.write(`floodgate bench: ${signal}: stopping ${children.length} child process(es)\n`);
    const exited = children.map(
      (child) => new Promise<void>((resolve) => child.once("exit", () => resolve())),
    );
    for (const child of children) child.kill("SIGTERM");
    const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
    void Promise.race([Promise.all(exited), wait(INTERRUPT_GRACE_MS)])
      .then(() =>
        Promise.race([
          Promise.allSettled([...interruptCleanups].map((cleanUp) => cleanUp())),
          wait(INTERRUPT_CLEANUP_MS),
        ]),
      )
      .then(() => {
        for (const path of temporaryDirectories) rmSync(path, { recursive: true, force: true });
        process.exit(130);
      });
  };
  process.once("SIGINT", stopAll);
  process.once("SIGTERM", stopAll);
}

/** A free TCP port on 127.0.0.1 (the OS picks it; it is free when this resolves). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Keeps the last few KB a child printed, for the error message when it fails. */
export function captureOutput(child: ChildProcess): () => string {
  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return () => tail;
}

/** Polls `GET <url>/readyz` until it answers 200; fails early if the child exits. */
export async function waitUntilReady(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `the target exited (${child.signalCode ?? child.exitCode}) while starting:\n${output()}`,
      );
    }
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
  child.kill("SIGKILL");
  throw new Error(`the target was not ready within ${READY_TIMEOUT_MS} ms:\n${output()}`);
}

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when it did not stop on SIGTERM in time and had to be killed. */
  readonly killed: boolean;
}

/** Graceful stop: SIGTERM, then SIGKILL if it has not exited in time. */
export async function stopChild(child: ChildProcess): Promise<ChildExit> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return { code: child.exitCode, signal: child.signalCode, killed: false };
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
  return { code: child.exitCode, signal: child.signalCode, killed };
}
