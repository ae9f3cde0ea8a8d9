import { mkdtemp, readdir, realpath, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPLAYED_OFFSETS_FILE } from "../../../src/platform/queue/embedded/replayed-offsets.js";
import {
  BURSTS,
  DEAD_LETTERS,
  RECORDS_PER_BURST,
  REPLAY_CALLS,
  SYNCED_TOPIC,
} from "./fixtures/acknowledge-appends-plan.js";
import {
  fdPath,
  quotedPath,
  type Syscall,
  straceAvailable,
  type TracedRun,
  traceChild,
} from "./fixtures/syscall-trace.js";

/**
 * The embedded log promises that a resolved append (and a finished dead-letter replay) is on
 * disk. Nothing a test can observe in-process tells a synced write from one still in the page
 * cache, so this test watches the system calls: the child (fixtures/acknowledge-appends.ts)
 * announces every acknowledgement with a write to stdout, and the trace must show, before each
 * announcement, an fdatasync/fsync of every segment and replayed-offsets byte written so far, and
 * an fsync of the directory holding every segment, topic directory and replayed-offsets file
 * created so far. Removing any of those syncs turns this test red; the crash test cannot, since
 * kill -9 leaves the page cache intact.
 */

const CHILD_SCRIPT = fileURLToPath(new URL("./fixtures/acknowledge-appends.ts", import.meta.url));
const TRACED = [
  "openat",
  "mkdir",
  "mkdirat",
  "write",
  "writev",
  "pwrite64",
  "pwritev",
  "pwritev2",
  "fdatasync",
  "fsync",
];
const WRITES = new Set(["write", "writev", "pwrite64", "pwritev", "pwritev2"]);
/** Only these make data durable: sync_file_range, say, flushes neither metadata nor the disk's cache. */
const SYNCS = new Set(["fdatasync", "fsync"]);
const DURABLE_FILE = new RegExp(`^(\\d{20}\\.log|${REPLAYED_OFFSETS_FILE.replaceAll(".", "\\.")})$`);
const ACK = /^1<[^>]*>, "ACK (.*?)\\n"/;

interface Violation {
  readonly ack: string;
  readonly ackLine: number;
  readonly unsynced: string;
  readonly unsyncedLine: number;
}

/**
 * Per file or directory: what was done to it (writes to a file, entries created in a directory)
 * and how much of that a completed sync covers. A sync covers what completed before it started.
 */
class SyncLedger {
  private readonly pending = new Map<string, Array<{ what: string; line: number }>>();
  private readonly synced = new Map<string, number>();
  private readonly coverage = new Map<Syscall, number>();

  changed(path: string, what: string, line: number): void {
    const changes = this.pending.get(path) ?? [];
    changes.push({ what, line });
    this.pending.set(path, changes);
  }

  syncStarted(call: Syscall, path: string): void {
    this.coverage.set(call, this.pending.get(path)?.length ?? 0);
  }

  syncEnded(call: Syscall, path: string): void {
    const covered = this.coverage.get(call) ?? 0;
    if (call.result === 0 && covered > (this.synced.get(path) ?? 0)) {
      this.synced.set(path, covered);
    }
  }

  /** The oldest change of each path that no completed sync covers yet. */
  unsynced(): Array<{ what: string; line: number }> {
    const oldest = [];
    for (const [path, changes] of this.pending) {
      const change = changes[this.synced.get(path) ?? 0];
      if (change !== undefined) oldest.push(change);
    }
    return oldest;
  }
}

interface TraceFindings {
  readonly acks: string[];
  readonly violations: Violation[];
  /** Bytes the trace shows written to each durable file: must match the files, or writes went unseen. */
  readonly bytesWritten: Map<string, number>;
}

function checkTrace(run: TracedRun, scope: string): TraceFindings {
  const ledger = new SyncLedger();
  const acks: string[] = [];
  const violations: Violation[] = [];
  const bytesWritten = new Map<string, number>();
  // The scope itself counts: creating the stream directory in it must fsync it.
  const inScope = (path: string | undefined): path is string =>
    path === scope || path?.startsWith(`${scope}/`) === true;
  for (const { kind, line, call } of run.steps) {
    const path = fdPath(call);
    if (kind === "start") {
      const ack = ACK.exec(call.args)?.[1];
      if (call.name === "write" && ack !== undefined) {
        acks.push(ack);
        for (const change of ledger.unsynced()) {
          violations.push({ ack, ackLine: line, unsynced: change.what, unsyncedLine: change.line });
        }
      } else if (SYNCS.has(call.name) && inScope(path)) {
        ledger.syncStarted(call, path);
      }
      continue;
    }
    if (SYNCS.has(call.name) && inScope(path)) {
      ledger.syncEnded(call, path);
    } else if (
      WRITES.has(call.name) &&
      inScope(path) &&
      DURABLE_FILE.test(basename(path)) &&
      call.result > 0
    ) {
      ledger.changed(path, `${call.name} of ${call.result} bytes to ${path}`, line);
      bytesWritten.set(path, (bytesWritten.get(path) ?? 0) + call.result);
    } else if (
      call.name === "openat" &&
      call.result >= 0 &&
      call.args.includes("O_CREAT") &&
      inScope(call.resultPath) &&
      DURABLE_FILE.test(basename(call.resultPath))
    ) {
      ledger.changed(dirname(call.resultPath), `creation of ${call.resultPath}`, line);
    } else if ((call.name === "mkdir" || call.name === "mkdirat") && call.result === 0) {
      const created = quotedPath(call);
      if (inScope(created)) ledger.changed(dirname(created), `creation of directory ${created}`, line);
    }
  }
  return { acks, violations, bytesWritten };
}

/** Every segment and replayed-offsets file under `root`, with its size. */
async function durableFiles(root: string): Promise<Map<string, number>> {
  const files = new Map<string, number>();
  for (const topic of await readdir(root, { withFileTypes: true })) {
    if (!topic.isDirectory()) continue;
    for (const name of await readdir(join(root, topic.name))) {
      if (DURABLE_FILE.test(name)) {
        const path = join(root, topic.name, name);
        files.set(path, (await stat(path)).size);
      }
    }
  }
  return files;
}

const traceable = straceAvailable();

describe.skipIf(!traceable)("embedded log durability, seen in its system calls", () => {
  let scope: string;
  let run: TracedRun;
  let findings: TraceFindings;

  beforeAll(async () => {
    // realpath: strace -y prints resolved paths.
    scope = await realpath(await mkdtemp(join(tmpdir(), "floodgate-durability-")));
    run = await traceChild(
      TRACED,
      join(scope, "trace.txt"),
      [process.execPath, "--import", "tsx", CHILD_SCRIPT, join(scope, "stream")],
      {
        // libuv can send file writes and syncs through io_uring, where strace sees nothing. Node
        // 20 leaves it off unless this variable says otherwise; pin it off. The byte count check
        // below would notice unseen writes anyway.
        env: { ...process.env, UV_USE_IO_URING: "0" },
        timeoutMs: 25_000,
      },
    );
    if (run.code !== 0) {
      throw new Error(`the traced child exited with ${run.code}. stderr:\n${run.stderr}`);
    }
    findings = checkTrace(run, scope);
  }, 40_000);

  afterAll(async () => {
    if (scope !== undefined) await rm(scope, { recursive: true, force: true });
  });

  it("acknowledges nothing before its bytes and its directory entries are synced", () => {
    const described = findings.violations
      .slice(0, 5)
      .map(
        (violation) =>
          `ACK ${violation.ack} (trace line ${violation.ackLine}) came before a sync of ` +
          `${violation.unsynced} (line ${violation.unsyncedLine}: ${run.traceLines[violation.unsyncedLine - 1]})`,
      );
    expect(described, `${findings.violations.length} acknowledgements came too early`).toEqual([]);
  });

  it("saw every acknowledgement and every byte the log wrote, so the check above is not vacuous", async () => {
    const appends = Array.from({ length: BURSTS * RECORDS_PER_BURST }, (_, index) => `append ${index}`);
    const deadLetters = Array.from({ length: DEAD_LETTERS }, (_, index) => `dead-letter ${index}`);
    const replays = Array.from({ length: REPLAY_CALLS }, (_, index) => `replay ${index}`);
    expect([...findings.acks].sort()).toEqual([...appends, ...deadLetters, ...replays].sort());

    const files = await durableFiles(join(scope, "stream"));
    expect(Object.fromEntries(findings.bytesWritten)).toEqual(Object.fromEntries(files));
    const segments = [...files.keys()].filter((path) => dirname(path).endsWith(`/${SYNCED_TOPIC}`));
    expect(segments.length, "the run should roll to new segments several times").toBeGreaterThanOrEqual(3);
    expect([...files.keys()].some((path) => basename(path) === REPLAYED_OFFSETS_FILE)).toBe(true);
  });
});
