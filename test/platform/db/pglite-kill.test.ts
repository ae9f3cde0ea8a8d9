import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPgliteDatabase } from "../../../src/platform/db/pglite-database.js";

/**
 * Does a transaction PGlite reported as committed survive kill -9 of the process? A child writes
 * rows one committed transaction at a time and prints each id after its COMMIT resolved; we
 * SIGKILL it at a random moment, reopen the data dir and require every printed id to be there.
 * Two rounds on the same dir, so the second also starts from a dir recovered after a kill.
 */
const WRITER = fileURLToPath(new URL("./fixtures/pglite-commit-writer.ts", import.meta.url));
const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const ROUNDS = 2;
// PGlite takes ~5 s to start alone; next to other test files on 2 cores it can take several times that.
const READY_TIMEOUT_MS = 45_000;

interface KilledWriter {
  readonly committedIds: string[];
  readonly signal: NodeJS.Signals | null;
}

async function runWriterAndKillIt(dataDir: string): Promise<KilledWriter> {
  const child = spawn(process.execPath, ["--import", "tsx", WRITER, dataDir], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const committedIds: string[] = [];
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once("exit", (_code, signal) => resolve(signal)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`writer not ready after ${READY_TIMEOUT_MS} ms: ${stderr}`)),
      READY_TIMEOUT_MS,
    );
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`writer exited (${code}) before it was ready: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (line === "ready") {
        clearTimeout(timer);
        resolve();
        return;
      }
      const committed = /^committed (\d+)$/.exec(line);
      if (committed) committedIds.push(committed[1]!);
    });
  });
  try {
    await ready;
    await sleep(1_000 + Math.random() * 2_000);
  } finally {
    killIfRunning(child);
  }
  const signal = await exited;
  // Lines the child wrote before dying may still be in the pipe: let readline drain it.
  await new Promise<void>((resolve) =>
    child.stdout!.readableEnded ? resolve() : child.stdout!.once("end", resolve),
  );
  return { committedIds, signal };
}

function killIfRunning(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("PGlite on disk, process killed with SIGKILL", () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "floodgate-pglite-kill-"));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("keeps every transaction whose COMMIT had resolved", { timeout: 120_000 }, async () => {
    const printed: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const { committedIds, signal } = await runWriterAndKillIt(dataDir);
      expect(signal).toBe("SIGKILL");
      // A kill before anything committed would prove nothing.
      expect(committedIds.length).toBeGreaterThan(5);
      printed.push(...committedIds);
    }

    const db = await openPgliteDatabase({ dataDir, name: "kill-test-reopened" });
    try {
      const rows = await db.query<{ id: string }>("SELECT id FROM committed_rows");
      const stored = new Set(rows.map((row) => row.id));
      const lost = printed.filter((id) => !stored.has(id));
      expect(lost).toEqual([]);
      // At most one row per round may be stored without having been printed (killed between its
      // COMMIT and the print); more would mean ids were reused or printing lagged.
      expect(stored.size - printed.length).toBeLessThanOrEqual(ROUNDS);
    } finally {
      await db.close();
    }
  });
});
