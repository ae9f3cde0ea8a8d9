import { type ChildProcess, spawn } from "node:child_process";
import { appendFile, mkdtemp, open, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbeddedStream } from "../../../src/platform/queue/embedded/embedded-stream.js";
import { FrameReader } from "../../../src/platform/queue/embedded/frame-reader.js";
import { crashTestPayload, crashTestTopic } from "./fixtures/crash-test-payload.js";

const CHILD_SCRIPT = fileURLToPath(new URL("./fixtures/append-until-killed.ts", import.meta.url));
const ROUNDS = 5;
/** Each round numbers its messages from round * NUMBERS_PER_ROUND, so numbers never repeat. */
const NUMBERS_PER_ROUND = 100_000_000;
/** Small segments so rolls (and crashes right around them) happen many times per round. */
const SEGMENT_BYTES = 256 * 1024;
/** After this round the test appends a torn record by hand, as a crash mid-write would leave. */
const TORN_WRITE_ROUND = 1;

interface RoundResult {
  readonly reported: number[];
  readonly stderr: string;
  readonly signal: NodeJS.Signals | null;
}

function waitForExit(child: ChildProcess): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => child.once("exit", (_code, signal) => resolve(signal)));
}

/** Starts the appender, kills it with SIGKILL 100–600 ms after its first append resolved. */
async function runRound(directory: string, round: number): Promise<RoundResult> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", CHILD_SCRIPT, directory, String(round * NUMBERS_PER_ROUND), String(SEGMENT_BYTES)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = waitForExit(child);
  const reported: number[] = [];
  let partialLine = "";
  let stderr = "";
  let announceFirst: () => void = () => undefined;
  const firstAppendResolved = new Promise<void>((resolve) => {
    announceFirst = resolve;
  });
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    const lines = (partialLine + chunk).split("\n");
    // Only newline-terminated lines count: the kill can cut the last write short.
    partialLine = lines.pop()!;
    for (const line of lines) {
      reported.push(Number(line));
    }
    if (reported.length > 0) {
      announceFirst();
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });

  const started = await Promise.race([
    firstAppendResolved.then(() => true),
    exited.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 15_000)),
  ]);
  if (!started) {
    child.kill("SIGKILL");
    await exited;
    throw new Error(`round ${round}: the appender never reported an append. stderr:\n${stderr}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 500));
  child.kill("SIGKILL");
  const signal = await exited;
  // Let the pipes deliver what the child wrote before it died.
  await new Promise((resolve) => setImmediate(resolve));
  return { reported, stderr, signal };
}

async function segmentPaths(directory: string): Promise<string[]> {
  const topicDirectory = join(directory, crashTestTopic);
  return (await readdir(topicDirectory))
    .filter((name) => name.endsWith(".log"))
    .sort()
    .map((name) => join(topicDirectory, name));
}

/** Simulates a write torn by a crash: a header promising 1,000 bytes followed by 20 of garbage. */
async function appendTornRecord(directory: string): Promise<void> {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(1_000, 0);
  header.writeUInt32BE(0xdeadbeef, 4);
  await appendFile((await segmentPaths(directory)).at(-1)!, Buffer.concat([header, Buffer.alloc(20, 0x5a)]));
}

/** Decodes every segment file from its first byte; returns the number of records, throws on damage. */
async function countIntactRecords(directory: string): Promise<number> {
  let records = 0;
  for (const path of await segmentPaths(directory)) {
    const handle = await open(path, "r");
    try {
      const { size } = await handle.stat();
      const reader = new FrameReader(handle, 0, 256 * 1024);
      for (;;) {
        const frame = await reader.read(size);
        if (frame.kind === "end") {
          break;
        }
        if (frame.kind === "damaged") {
          throw new Error(`${path}: ${frame.reason}`);
        }
        records += 1;
      }
    } finally {
      await handle.close();
    }
  }
  return records;
}

describe("embedded log under kill -9", () => {
  let directory: string;
  const rounds: RoundResult[] = [];

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "floodgate-crash-"));
    for (let round = 0; round < ROUNDS; round += 1) {
      rounds.push(await runRound(directory, round));
      if (round === TORN_WRITE_ROUND) {
        await appendTornRecord(directory);
      }
    }
  }, 45_000);

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it("was killed in every round after appends had resolved", () => {
    expect(rounds.map((round) => round.signal)).toEqual(Array(ROUNDS).fill("SIGKILL"));
    for (const round of rounds) {
      expect(round.reported.length).toBeGreaterThan(0);
    }
  });

  it("cut the hand-made torn record when the next round opened the log", () => {
    expect(rounds[TORN_WRITE_ROUND + 1]!.stderr).toMatch(/cut \d+ bytes of torn or corrupt tail/);
  });

  it("keeps every acknowledged append exactly once, intact", async () => {
    const warnings: string[] = [];
    const stream = await openEmbeddedStream(directory, { onWarning: (message) => warnings.push(message) });
    const stored = new Map<number, number>();
    const mismatched: string[] = [];
    try {
      const group = stream.group(crashTestTopic, "verifier", { visibilityTimeoutMs: 60_000, maxAttempts: 1 });
      for (;;) {
        const deliveries = await group.fetch(10_000, 0);
        if (deliveries.length === 0) {
          break;
        }
        for (const delivery of deliveries) {
          const number = Number.parseInt(Buffer.from(delivery.data).toString("utf8"), 10);
          if (!Buffer.from(delivery.data).equals(crashTestPayload(number))) {
            mismatched.push(Buffer.from(delivery.data).toString("utf8").slice(0, 40));
          }
          stored.set(number, (stored.get(number) ?? 0) + 1);
        }
      }
      expect((await stream.stats(crashTestTopic)).appended).toBe(
        [...stored.values()].reduce((a, b) => a + b, 0),
      );
    } finally {
      await stream.close();
    }

    // Recovery may cut the tail the last kill tore, and nothing else.
    for (const warning of warnings) {
      expect(warning).toMatch(/cut \d+ bytes of torn or corrupt tail/);
    }
    expect(mismatched).toEqual([]);
    const duplicates = [...stored].filter(([, count]) => count > 1).map(([number]) => number);
    expect(duplicates).toEqual([]);
    const reported = rounds.flatMap((round) => round.reported);
    const lost = reported.filter((number) => !stored.has(number));
    expect(lost).toEqual([]);
    expect(await countIntactRecords(directory)).toBe(stored.size);
  });
});
