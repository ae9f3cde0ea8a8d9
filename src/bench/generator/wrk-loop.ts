import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LatencySummary } from "../latency.js";
import { clockTicksPerSecond } from "../proc-clock.js";
import type { PlannedRequest, RequestKind, Workload } from "../workload.js";
import type { GeneratorJob, GeneratorResult, GeneratorSeriesPoint } from "./messages.js";

const DRIVER_SCRIPT = fileURLToPath(new URL("./wrk-driver.lua", import.meta.url));

/**
 * Requests built ahead for wrk: a flash sale's buyers each get one (past them the same buyers come
 * back with the same key, as with the JavaScript generator); catalog reads repeat a Zipf sequence
 * this long. A larger distinct set is refused rather than held in wrk's memory.
 */
export const WRK_MAX_DISTINCT_REQUESTS = 200_000;
const CATALOG_SEQUENCE = 50_000;
/** wrk's threads: one per core of this 2-core machine would leave none to the target. */
const WRK_THREADS = 1;

/** What the Lua driver writes at the end of the run (see wrk-driver.lua). */
interface WrkOutput {
  /** wrk's whole runtime. */
  readonly durationUs: number;
  /** First request sent to last answer received. */
  readonly activeUs: number;
  readonly sent: number;
  readonly answered: number;
  /** Requests counted as timed out, at the deadline in the percentiles (see wrk-driver.lua). */
  readonly unanswered: number;
  readonly errors: {
    readonly connect: number;
    readonly read: number;
    readonly write: number;
    readonly status: number;
    readonly timeout: number;
  };
  /** Answered and unanswered together: the latter at the deadline. */
  readonly latencyUs: {
    readonly mean: number;
    readonly max: number;
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly p999: number;
  };
  readonly cpuTicks: { readonly user: number; readonly system: number };
  readonly statuses: Record<string, number>;
  readonly codes: Record<string, number>;
  readonly perSecond: Record<string, number>;
  readonly orderIds: string[];
}

/** How many distinct requests the run needs built ahead, by scenario. */
export function distinctRequestsFor(job: GeneratorJob): number {
  const { scenario, users } = job.workload;
  if (scenario === "mixed") {
    throw new Error("wrk cannot drive the mixed scenario: its polls depend on earlier answers");
  }
  const total = job.length.kind === "requests" ? job.length.count : Number.POSITIVE_INFINITY;
  if (scenario === "catalog-read") return Math.min(total, CATALOG_SEQUENCE);
  return Math.min(total, users);
}

/** One planned request as the bytes wrk writes on the socket. */
export function rawRequest(planned: PlannedRequest, host: string): string {
  const lines = [`${planned.method} ${planned.path} HTTP/1.1`, `Host: ${host}`];
  for (const [name, value] of Object.entries(planned.headers)) lines.push(`${name}: ${value}`);
  if (planned.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(planned.body)}`);
  return `${lines.join("\r\n")}\r\n\r\n${planned.body ?? ""}`;
}

/** Milliseconds, rounded to the microsecond. */
const msOf = (us: number) => Math.round(us) / 1000;

function latencyOf(output: WrkOutput): LatencySummary {
  const { latencyUs } = output;
  return {
    count: output.answered + output.unanswered,
    mean: msOf(latencyUs.mean),
    p50: msOf(latencyUs.p50),
    p90: msOf(latencyUs.p90),
    p99: msOf(latencyUs.p99),
    p999: msOf(latencyUs.p999),
    max: msOf(latencyUs.max),
  };
}

/** One point per second from the first answer to the last, seconds without answers included. */
function seriesOf(perSecond: Record<string, number>): GeneratorSeriesPoint[] {
  const seconds = Object.keys(perSecond).map(Number);
  if (seconds.length === 0) return [];
  const first = Math.min(...seconds);
  const last = Math.max(...seconds);
  return Array.from({ length: last - first + 1 }, (_, i) => first + i)
    .map((second) => ({ second, completed: perSecond[String(second)] ?? 0 }))
    .map(({ second, completed }) => ({
      at: (second + 1) * 1000,
      completed,
      errors: 0,
      requestsPerSecond: completed,
      // wrk gives the Lua driver no clock per request: per-second percentiles are not known.
      p50: null,
      p90: null,
      p99: null,
      max: null,
    }));
}

/**
 * Runs wrk to its end. With `threadsToFinish`, a run of a request count: wrk's main thread sleeps
 * out --duration whatever its threads do, so once every thread has printed THREAD_DONE it gets the
 * SIGINT that ends its sleep (it then writes its summary as usual).
 */
function runWrk(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  threadsToFinish: number | undefined,
  killAfterMs: number,
  onAnswered: (answered: number) => void,
): Promise<{ allThreadsDone: boolean }> {
  return new Promise<{ allThreadsDone: boolean }>((resolve, reject) => {
    const child = spawn("wrk", args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let pending = "";
    let stderr = "";
    let finished = 0;
    const answeredByThread = new Map<string, number>();
    const killer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const progress = /^PROGRESS (\d+) (\d+)$/.exec(line);
        if (progress) {
          answeredByThread.set(progress[1]!, Number(progress[2]));
          onAnswered([...answeredByThread.values()].reduce((sum, n) => sum + n, 0));
        } else if (line === "THREAD_DONE") {
          finished += 1;
          if (threadsToFinish !== undefined && finished >= threadsToFinish) child.kill("SIGINT");
        } else {
          stdout += `${line}\n`;
        }
      }
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.once("error", (error) => {
      clearTimeout(killer);
      reject(new Error(`wrk could not start: ${error.message}`));
    });
    child.once("close", (code, signal) => {
      clearTimeout(killer);
      if (code === 0)
        resolve({ allThreadsDone: threadsToFinish !== undefined && finished >= threadsToFinish });
      else reject(new Error(`wrk exited with ${signal ?? code}: ${stderr.trim() || stdout.trim()}`));
    });
  });
}

/**
 * Runs the closed model with wrk and turns its figures into a GeneratorResult. The requests are
 * the same ones the JavaScript generator would send (the same Workload, built ahead); wrk only
 * writes them and reads the answers.
 */
export async function runWrkLoop(
  job: GeneratorJob,
  workload: Workload,
  callbacks: {
    /** Just before wrk starts: the requests are built, so the target's CPU window starts here. */
    readonly onStarted?: () => void;
    /** Answers so far, about once a second. */
    readonly onAnswered?: (answered: number) => void;
  } = {},
): Promise<GeneratorResult> {
  if (job.model.kind !== "closed") throw new Error("wrk drives the closed model only");
  const distinct = distinctRequestsFor(job);
  if (distinct > WRK_MAX_DISTINCT_REQUESTS) {
    throw new Error(
      `wrk would need ${distinct} distinct requests built ahead (at most ${WRK_MAX_DISTINCT_REQUESTS}); use fewer --users or --generator autocannon`,
    );
  }
  const url = new URL(job.url);
  const directory = mkdtempSync(join(tmpdir(), "floodgate-wrk-"));
  try {
    const kinds = new Set<RequestKind>();
    const requests: string[] = [];
    for (let index = 0; index < distinct; index++) {
      const planned = workload.next();
      kinds.add(planned.kind);
      requests.push(rawRequest(planned, url.host));
    }
    const requestsPath = join(directory, "requests.bin");
    const outPath = join(directory, "out.json");
    writeFileSync(requestsPath, requests.join("\0"));
    const connections =
      job.length.kind === "requests"
        ? Math.min(job.model.connections, job.length.count)
        : job.model.connections;
    const threads = Math.min(WRK_THREADS, connections);
    const env: Record<string, string> = {
      ...process.env,
      FG_WRK_REQUESTS: requestsPath,
      FG_WRK_OUT: outPath,
      FG_WRK_THREADS: String(threads),
      FG_WRK_TIMEOUT_MS: String(job.requestTimeoutMs),
    };
    let durationSeconds: number;
    if (job.length.kind === "requests") {
      // Each thread's quota; wrk's own duration is only the run's hard deadline.
      env.FG_WRK_QUOTA = String(Math.ceil(job.length.count / threads));
      durationSeconds = Math.max(1, Math.floor(job.deadlineMs / 1000));
    } else {
      durationSeconds = job.length.seconds;
    }
    // With a quota wrk waits for every answer (its --timeout is the run's deadline) and the script
    // counts a late one at the request deadline; a duration run takes wrk's timeout as it is.
    const wrkTimeoutSeconds = Math.max(
      1,
      Math.ceil((job.length.kind === "requests" ? job.deadlineMs : job.requestTimeoutMs) / 1000),
    );
    callbacks.onStarted?.();
    const startedAt = Date.now();
    const { allThreadsDone } = await runWrk(
      [
        `-t${threads}`,
        `-c${connections}`,
        `-d${durationSeconds}s`,
        "--timeout",
        `${wrkTimeoutSeconds}s`,
        "-s",
        DRIVER_SCRIPT,
        job.url,
      ],
      env,
      job.length.kind === "requests" ? threads : undefined,
      job.deadlineMs + 30_000,
      callbacks.onAnswered ?? (() => {}),
    );
    const output = JSON.parse(readFileSync(outPath, "utf8")) as WrkOutput;
    const durationMs = Math.max(1, output.activeUs / 1000);
    const latency = latencyOf(output);
    const transportErrors: Record<string, number> = {};
    if (output.unanswered > 0) transportErrors.timeout = output.unanswered;
    for (const cause of ["connect", "read", "write"] as const) {
      if (output.errors[cause] > 0) transportErrors[cause] = output.errors[cause];
    }
    const cpuMs = ((output.cpuTicks.user + output.cpuTicks.system) * 1000) / clockTicksPerSecond();
    // A run of a request count ends when every thread is done; else the deadline stopped it.
    const truncated = job.length.kind === "requests" && !allThreadsDone;
    const [kind] = [...kinds];
    return {
      model: "closed",
      generator: "wrk",
      startedAt,
      durationMs: Math.round(durationMs),
      sent: output.sent,
      completed: output.answered,
      throughputRps: Math.round((output.answered / durationMs) * 1000 * 10) / 10,
      latencyMs: latency,
      latencyByKindMs: kinds.size === 1 && kind ? { [kind]: latency } : {},
      statusCounts: output.statuses,
      errorCodes: output.codes,
      transportErrors,
      series: seriesOf(output.perSecond),
      acceptedOrderIds: output.orderIds,
      cpu: {
        userMs: Math.round((output.cpuTicks.user * 1000) / clockTicksPerSecond()),
        systemMs: Math.round((output.cpuTicks.system * 1000) / clockTicksPerSecond()),
        wallMs: Math.round(durationMs),
        coresUsed: Math.round((cpuMs / durationMs) * 100) / 100,
        processTotalMs: Math.round(cpuMs),
      },
      sendLagMs: null,
      truncated,
    };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
