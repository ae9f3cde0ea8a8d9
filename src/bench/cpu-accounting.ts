import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { clockTicksPerSecond } from "./proc-clock.js";
import { type ServerCpuSnapshot, serverCpuMsBetween, takeServerCpuSnapshot } from "./server-cpu.js";

/** CPU time counters at one instant, in ms. */
export interface CpuSnapshot {
  readonly atMs: number;
  /** Busy time of the whole machine, all cores (user + nice + system + irq). */
  readonly machineBusyMs: number;
  /** The target process's own CPU time; null when it cannot be read (not Linux, or not ours). */
  readonly targetMs: number | null;
  /** This bench process (telemetry polling, bookkeeping). */
  readonly benchMs: number;
  /** The servers the target works through (Redis, NATS, PostgreSQL), when it uses any. */
  readonly servers: ServerCpuSnapshot | null;
}

/** Where the machine's CPU went during a run, in cores (1 = one core fully busy). */
export interface CpuShares {
  readonly wallMs: number;
  readonly machineCores: number;
  readonly targetCores: number | null;
  readonly generatorCores: number;
  readonly benchCores: number;
  /**
   * The servers on this machine the target works through (Redis, NATS, PostgreSQL: their process
   * trees); null when it uses none or they were not found. Not part of `otherCores`.
   */
  readonly serverCores?: number | null;
  /**
   * Everything else: other processes on the machine. Well above zero means the run shared the
   * machine with other work, and its figures are lower than the machine can do.
   */
  readonly otherCores: number | null;
}

/** utime + stime of a process from /proc/<pid>/stat (Linux), in ms. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces; the fields after its closing parenthesis don't.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const userTicks = Number(fields[11]);
    const systemTicks = Number(fields[12]);
    if (!Number.isFinite(userTicks) || !Number.isFinite(systemTicks)) return null;
    return ((userTicks + systemTicks) * 1000) / clockTicksPerSecond();
  } catch {
    return null;
  }
}

/** `serverPids`: the processes listening for the servers the target uses (empty: none). */
export function takeCpuSnapshot(targetPid: number | null, serverPids: readonly number[] = []): CpuSnapshot {
  const machineBusyMs = cpus().reduce(
    (total, cpu) => total + cpu.times.user + cpu.times.nice + cpu.times.sys + cpu.times.irq,
    0,
  );
  const own = process.cpuUsage();
  return {
    atMs: performance.now(),
    machineBusyMs,
    targetMs: targetPid === null ? null : processCpuMs(targetPid),
    benchMs: (own.user + own.system) / 1000,
    servers: serverPids.length > 0 ? takeServerCpuSnapshot(serverPids) : null,
  };
}

const cores = (ms: number, wallMs: number) => Math.round((ms / wallMs) * 100) / 100;

/** Splits the machine's busy time over a run between target, generator, bench and the rest. */
export function cpuShares(before: CpuSnapshot, after: CpuSnapshot, generatorCpuMs: number): CpuShares {
  const wallMs = Math.max(1, after.atMs - before.atMs);
  const machineMs = after.machineBusyMs - before.machineBusyMs;
  const targetMs =
    before.targetMs !== null && after.targetMs !== null ? after.targetMs - before.targetMs : null;
  const benchMs = after.benchMs - before.benchMs;
  const serverMs =
    before.servers && after.servers && after.servers.size > 0
      ? serverCpuMsBetween(before.servers, after.servers)
      : null;
  return {
    wallMs: Math.round(wallMs),
    machineCores: cores(machineMs, wallMs),
    targetCores: targetMs === null ? null : cores(targetMs, wallMs),
    generatorCores: cores(generatorCpuMs, wallMs),
    benchCores: cores(benchMs, wallMs),
    serverCores: serverMs === null ? null : cores(serverMs, wallMs),
    otherCores:
      targetMs === null
        ? null
        : Math.max(0, cores(machineMs - targetMs - generatorCpuMs - benchMs - (serverMs ?? 0), wallMs)),
  };
}
