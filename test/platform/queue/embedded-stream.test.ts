import { execFile, spawn } from "node:child_process";
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  type EmbeddedStreamOptions,
  openEmbeddedStream,
} from "../../../src/platform/queue/embedded/embedded-stream.js";
import type { ConsumerGroup, GroupOptions, Stream } from "../../../src/platform/queue/stream.js";
import type { FileSizeLimitReport } from "./fixtures/append-past-file-size-limit.js";
import { describeStreamConformance } from "./stream-conformance.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (value: string): Uint8Array => encoder.encode(value);

const makeTempDir = () => mkdtemp(join(tmpdir(), "floodgate-stream-"));

describeStreamConformance("embedded log", async () => {
  const directory = await makeTempDir();
  const opened: Stream[] = [await openEmbeddedStream(directory)];
  return {
    stream: opened[0]!,
    reopen: async () => {
      const stream = await openEmbeddedStream(directory);
      opened.push(stream);
      return stream;
    },
    cleanup: async () => {
      await Promise.all(opened.map((stream) => stream.close()));
      await rm(directory, { recursive: true, force: true });
    },
  };
});

const PATIENT: GroupOptions = { visibilityTimeoutMs: 30_000, maxAttempts: 5 };

/** Fetches until the group has nothing more, acking everything; returns payloads and ids in order. */
async function drain(group: ConsumerGroup): Promise<{ values: string[]; ids: string[] }> {
  const values: string[] = [];
  const ids: string[] = [];
  for (;;) {
    const deliveries = await group.fetch(1_000, 50);
    if (deliveries.length === 0) {
      return { values, ids };
    }
    for (const delivery of deliveries) {
      values.push(decoder.decode(delivery.data));
      ids.push(delivery.id);
      await delivery.ack();
    }
  }
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) {
      throw new Error("condition not reached in time");
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function segmentFiles(topicDirectory: string): Promise<string[]> {
  return (await readdir(topicDirectory)).filter((name) => name.endsWith(".log")).sort();
}

const segmentName = (base: number) => `${String(base).padStart(20, "0")}.log`;

/** A process id that is certainly not running: a child that already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid!;
}

describe("embedded log", () => {
  let directory: string;
  const warnings: string[] = [];
  const open: Stream[] = [];

  async function openStream(options: EmbeddedStreamOptions = {}): Promise<Stream> {
    const stream = await openEmbeddedStream(directory, {
      onWarning: (message) => warnings.push(message),
      ...options,
    });
    open.push(stream);
    return stream;
  }

  beforeEach(async () => {
    directory = await makeTempDir();
    warnings.length = 0;
  });

  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((stream) => stream.close()));
    await rm(directory, { recursive: true, force: true });
  });

  describe("recovery", () => {
    const firstSegment = () => join(directory, "orders", segmentName(0));

    async function writeThreeAndClose(): Promise<number> {
      const stream = await openStream();
      for (const value of ["a", "b", "c"]) {
        await stream.append("orders", text(value));
      }
      await stream.close();
      return (await stat(firstSegment())).size;
    }

    async function valuesAfterReopen(): Promise<string[]> {
      const stream = await openStream();
      return (await drain(stream.group("orders", "readers", PATIENT))).values;
    }

    it("cuts a short header at the tail and keeps the records before it", async () => {
      const intactSize = await writeThreeAndClose();
      await appendFile(firstSegment(), Buffer.from([0, 0, 0]));

      expect(await valuesAfterReopen()).toEqual(["a", "b", "c"]);
      expect(warnings.join("\n")).toMatch(/cut 3 bytes .*short header/);
      expect((await stat(firstSegment())).size).toBe(intactSize);
    });

    it("cuts a record whose length runs past the end of the file", async () => {
      const intactSize = await writeThreeAndClose();
      const header = Buffer.alloc(8);
      header.writeUInt32BE(100, 0);
      await appendFile(firstSegment(), Buffer.concat([header, Buffer.from("only ten b")]));

      expect(await valuesAfterReopen()).toEqual(["a", "b", "c"]);
      expect(warnings.join("\n")).toMatch(/cut 18 bytes .*past the end/);
      expect((await stat(firstSegment())).size).toBe(intactSize);
    });

    it("cuts a record whose crc does not match, and the log keeps working after the cut", async () => {
      const intactSize = await writeThreeAndClose();
      const bytes = await readFile(firstSegment());
      const last = bytes.length - 1;
      bytes.writeUInt8(bytes.readUInt8(last) ^ 0xff, last); // flips the payload of "c"
      await writeFile(firstSegment(), bytes);

      const stream = await openStream();
      const group = stream.group("orders", "readers", PATIENT);
      expect((await drain(group)).values).toEqual(["a", "b"]);
      expect(warnings.join("\n")).toMatch(/cut 9 bytes .*crc mismatch/);
      expect((await stat(firstSegment())).size).toBe(intactSize - 9);

      await stream.append("orders", text("d"));
      const next = await drain(group);
      expect(next).toEqual({ values: ["d"], ids: ["2"] });
    });

    it("cuts a zero-filled tail (file size extended, data never written)", async () => {
      await writeThreeAndClose();
      await appendFile(firstSegment(), Buffer.alloc(64));

      expect(await valuesAfterReopen()).toEqual(["a", "b", "c"]);
      expect(warnings.join("\n")).toMatch(/cut 64 bytes .*crc mismatch/);
    });

    it("opens a clean log without warnings", async () => {
      await writeThreeAndClose();
      expect(await valuesAfterReopen()).toEqual(["a", "b", "c"]);
      expect(warnings).toEqual([]);
    });
  });

  describe("segments", () => {
    // 30-byte payloads make 38-byte frames: six fit in a 256-byte segment.
    const payload = (index: number) => `message-${String(index).padStart(3, "0")}`.padEnd(30, ".");
    const options = { segmentBytes: 256, offsetPersistIntervalMs: 10 };
    const topicDirectory = () => join(directory, "orders");

    it("rolls to segment files named by base offset and deletes those every group consumed", async () => {
      const stream = await openStream(options);
      const fast = stream.group("orders", "fast", PATIENT);
      const slow = stream.group("orders", "slow", PATIENT);
      for (let index = 0; index < 40; index += 1) {
        await stream.append("orders", text(payload(index)));
      }
      expect(await segmentFiles(topicDirectory())).toEqual([0, 6, 12, 18, 24, 30, 36].map(segmentName));

      const everything = await drain(fast);
      expect(everything.values).toEqual(Array.from({ length: 40 }, (_, index) => payload(index)));
      // "slow" has acked nothing yet, so nothing may go.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await segmentFiles(topicDirectory())).toHaveLength(7);

      const slowFirst = await slow.fetch(20, 1_000);
      await Promise.all(slowFirst.map((delivery) => delivery.ack()));
      // Offsets 0–19 are done everywhere: segments 0, 6 and 12 (up to offset 17) are deleted; 18 holds 19.
      await waitFor(async () => (await segmentFiles(topicDirectory())).length === 4);
      expect(await segmentFiles(topicDirectory())).toEqual([18, 24, 30, 36].map(segmentName));

      await drain(slow);
      await waitFor(async () => (await segmentFiles(topicDirectory())).length === 1);
      expect(await segmentFiles(topicDirectory())).toEqual([segmentName(36)]);
      expect((await stream.stats("orders")).appended).toBe(40);

      // A new group starts at the oldest retained record.
      const late = await drain(stream.group("orders", "late", PATIENT));
      expect(late.ids).toEqual(["36", "37", "38", "39"]);

      await stream.close();
      const reopened = await openStream(options);
      expect((await reopened.stats("orders")).appended).toBe(40);
      await reopened.append("orders", text("after reopen"));
      const afterReopen = await drain(reopened.group("orders", "fast", PATIENT));
      expect(afterReopen).toEqual({ values: ["after reopen"], ids: ["40"] });
    });

    it("resumes mid-segment after reopen, reading in chunks smaller than a record", async () => {
      const sizes = [1, 500, 17, 300, 0, 64, 1_000, 5, 250, 90];
      const values = sizes.map((size, index) => `${index}:`.padEnd(size + 2, "x"));
      const first = await openStream({ readChunkBytes: 64 });
      for (const value of values) {
        await first.append("orders", text(value));
      }
      const group = first.group("orders", "readers", PATIENT);
      const head = await group.fetch(4, 1_000);
      await Promise.all(head.map((delivery) => delivery.ack()));
      await first.close();

      const second = await openStream({ readChunkBytes: 64 });
      const rest = await drain(second.group("orders", "readers", PATIENT));
      expect(rest.values).toEqual(values.slice(4));
      expect(rest.ids).toEqual(["4", "5", "6", "7", "8", "9"]);
    });
  });

  describe("lock file", () => {
    it("refuses a second open of the same directory while the first is open", async () => {
      const first = await openStream();
      expect((await readFile(join(directory, "LOCK"), "utf8")).trim()).toBe(String(process.pid));

      const second = openEmbeddedStream(directory);
      await expect(second).rejects.toThrow(new RegExp(`locked by this process \\(pid ${process.pid}\\)`));
      await expect(openEmbeddedStream(directory)).rejects.toThrow(/FLOODGATE_DATA_DIR/);

      await first.close();
      await expect(stat(join(directory, "LOCK"))).rejects.toThrow(/ENOENT/);
      const third = await openStream();
      await third.append("orders", text("fine"));
    });

    it("takes over a lock naming its own pid that it does not hold (pid reuse after a restart)", async () => {
      await writeFile(join(directory, "LOCK"), `${process.pid}\n`);
      const stream = await openStream();
      await stream.append("orders", text("fine"));
      await expect(openEmbeddedStream(directory)).rejects.toThrow(/already has it open/);
    });

    it("names another live process that holds the lock", async () => {
      const holder = spawn(process.execPath, ["-e", "setTimeout(() => {}, 30000)"], { stdio: "ignore" });
      try {
        await writeFile(join(directory, "LOCK"), `${holder.pid}\n`);
        await expect(openEmbeddedStream(directory)).rejects.toThrow(
          new RegExp(`locked by pid ${holder.pid} .*FLOODGATE_DATA_DIR`),
        );
      } finally {
        holder.kill("SIGKILL");
      }
    });

    it("takes over a stale lock left by a dead process", async () => {
      await writeFile(join(directory, "LOCK"), `${await deadPid()}\n`);
      const stream = await openStream();
      await stream.append("orders", text("recovered"));
      expect((await readFile(join(directory, "LOCK"), "utf8")).trim()).toBe(String(process.pid));
      expect((await readdir(directory)).filter((name) => name.startsWith("LOCK"))).toEqual(["LOCK"]);
    });
  });

  describe("close", () => {
    it("flushes pending appends, rejects later calls and releases everything", async () => {
      const stream = await openStream();
      const group = stream.group("orders", "readers", PATIENT);
      const waitingFetch = group.fetch(10, 20_000);
      await stream.append("orders", text("delivered"));
      const [delivered] = await waitingFetch;
      const blockedFetch = group.fetch(10, 20_000);
      const blockedExpectation = expect(blockedFetch).rejects.toThrow(/closed/);

      const pending = Array.from({ length: 50 }, (_, index) =>
        stream.append("orders", text(`pending-${index}`)),
      );
      const closing = stream.close();
      await Promise.all(pending);
      await closing;
      await stream.close(); // idempotent

      await blockedExpectation;
      await expect(stream.append("orders", text("late"))).rejects.toThrow(/is closed/);
      await expect(stream.stats("orders")).rejects.toThrow(/is closed/);
      expect(() => stream.group("orders", "readers", PATIENT)).toThrow(/is closed/);
      await expect(group.fetch(1, 0)).rejects.toThrow(/is closed/);
      await expect(delivered!.ack()).rejects.toThrow(/is closed/);
      await expect(stat(join(directory, "LOCK"))).rejects.toThrow(/ENOENT/);

      const reopened = await openStream();
      const { values } = await drain(reopened.group("orders", "readers", PATIENT));
      // "delivered" was never acked, so it comes back first.
      expect(values).toEqual(["delivered", ...Array.from({ length: 50 }, (_, index) => `pending-${index}`)]);
    });

    it("closing a group rejects its fetches; the group can be opened again", async () => {
      const stream = await openStream();
      await stream.append("orders", text("x"));
      const group = stream.group("orders", "readers", PATIENT);
      expect(stream.group("orders", "readers", PATIENT)).toBe(group);
      const [first] = await group.fetch(1, 1_000);
      await first!.ack();
      await group.close();
      await expect(group.fetch(1, 0)).rejects.toThrow(/Consumer group "readers" of topic "orders" is closed/);

      const again = stream.group("orders", "readers", PATIENT);
      expect(again).not.toBe(group);
      expect(await again.fetch(1, 100)).toEqual([]);
      expect(await again.lag()).toBe(0);
    });
  });

  describe.skipIf(process.platform === "win32")("write failures", () => {
    const child = fileURLToPath(new URL("./fixtures/append-past-file-size-limit.ts", import.meta.url));

    it("rejects every append of a batch whose write fails, and stays consistent", async () => {
      // 128 blocks of 512 bytes: the segment may grow to 64 KiB, about twelve 50-record batches.
      const { stdout } = await promisify(execFile)(
        "sh",
        ["-c", 'ulimit -f 128 && exec "$0" --import tsx "$1" "$2"', process.execPath, child, directory],
        { timeout: 30_000 },
      );
      const report = JSON.parse(stdout) as FileSizeLimitReport;
      const failed = report.batches.at(-1)!;
      const succeeded = report.batches.slice(0, -1);

      expect(succeeded.length).toBeGreaterThan(5);
      expect(succeeded.every((batch) => batch.resolved === 50)).toBe(true);
      expect(failed.resolved).toBe(0);
      expect(failed.rejections).toHaveLength(1);
      expect(failed.rejections[0]).toMatch(/append failed: .*EFBIG/);
      // The failed write was cut back, so a record that still fits is accepted.
      expect(report.appendAfterFailure).toBe("resolved");

      const stream = await openStream();
      const { values } = await drain(stream.group("limited", "readers", PATIENT));
      expect(warnings).toEqual([]);
      expect(values).toHaveLength(succeeded.length * 50 + 1);
      expect(values.at(-1)).toBe("after the failure");
      expect(values.slice(0, 50).map((value) => value.split(":").slice(0, 2).join(":"))).toEqual(
        Array.from({ length: 50 }, (_, index) => `0:${index}`),
      );
    });
  });

  describe("dedup", () => {
    it("writes a message once per dedupId within the window", async () => {
      const stream = await openStream();
      await Promise.all([
        stream.append("orders", text("first"), { dedupId: "order-1" }),
        stream.append("orders", text("retry"), { dedupId: "order-1" }),
        stream.append("orders", text("other"), { dedupId: "order-2" }),
      ]);
      await stream.append("orders", text("late retry"), { dedupId: "order-1" });
      await stream.append("orders", text("no id"));

      expect((await stream.stats("orders")).appended).toBe(3);
      expect((await drain(stream.group("orders", "readers", PATIENT))).values).toEqual([
        "first",
        "other",
        "no id",
      ]);
    });

    it("forgets ids after the window", async () => {
      const stream = await openStream({ dedupWindowMs: 20 });
      await stream.append("orders", text("first"), { dedupId: "order-1" });
      await new Promise((resolve) => setTimeout(resolve, 40));
      await stream.append("orders", text("again"), { dedupId: "order-1" });
      expect((await stream.stats("orders")).appended).toBe(2);
    });
  });

  describe("dead letters", () => {
    it("reads a topic without dead letters without creating its dead-letter topic", async () => {
      const stream = await openStream();
      await stream.append("orders", text("fine"));
      expect((await stream.stats("orders")).deadLetters).toBe(0);
      expect(await stream.deadLetters("orders", { limit: 10 })).toEqual([]);
      expect(await stream.replayDeadLetters("orders", "all")).toEqual({ replayed: 0, missing: [] });
      expect(await readdir(directory)).not.toContain("orders.dead");
    });

    it("lists a dead letter again when the record of its replay was torn by a crash", async () => {
      const stream = await openStream();
      for (const value of ["d0", "d1"]) await stream.append("orders", text(value));
      const group = stream.group("orders", "workers", { visibilityTimeoutMs: 30_000, maxAttempts: 1 });
      for (const delivery of await group.fetch(2, 1_000)) await delivery.nak();
      const [first] = await stream.deadLetters("orders", { limit: 1 });
      expect(await stream.replayDeadLetters("orders", [first!.id])).toEqual({ replayed: 1, missing: [] });
      await stream.close();
      const file = join(directory, "orders.dead", "replayed-offsets.txt");
      expect(await readFile(file, "utf8")).toBe(`${first!.id}\n`);
      // A crash in the middle of writing the line leaves it without its newline.
      await writeFile(file, first!.id);

      const reopened = await openStream();
      const listed = await reopened.deadLetters("orders", { limit: 10 });
      expect(listed.map((deadLetter) => decoder.decode(deadLetter.data))).toEqual(["d0", "d1"]);
      expect((await reopened.stats("orders")).deadLetters).toBe(2);
    });
  });

  it("rejects names that are not safe as file names", async () => {
    const stream = await openStream();
    await expect(stream.append("../escape", text("x"))).rejects.toThrow(/Invalid topic name/);
    await expect(stream.append("LOCK", text("x"))).rejects.toThrow(/Invalid topic name/);
    expect(() => stream.group("orders", "a/b", PATIENT)).toThrow(/Invalid consumer group name/);
    expect(() => stream.group("orders", "g", { ...PATIENT, deadLetterTopic: "orders" })).toThrow(
      /must differ/,
    );
  });
});
