import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { clockTicksPerSecond } from "./proc-clock.js";

/**
 * The CPU of the servers a target works through (Redis, NATS, PostgreSQL on this machine). Work a
 * target hands to a server is still work per request: without this it would show as "other CPU"
 * and a target's req/s per core of its own CPU would flatter it. Linux only (/proc); elsewhere
 * nothing is found and the figures stay null.
 */

/** Fields of /proc/<pid>/stat the accounting needs, in clock ticks. */
export interface ProcStat {
  readonly ppid: number;
  /** utime + stime: the process's own CPU (all its threads). */
  readonly ownTicks: number;
  /** cutime + cstime: CPU of children it has reaped (a PostgreSQL backend that exited). */
  readonly reapedChildrenTicks: number;
}

export function parseProcStat(text: string): ProcStat | null {
  // The command name (field 2) may contain spaces; the fields after its closing parenthesis don't.
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const [ppid, utime, stime, cutime, cstime] = [1, 11, 12, 13, 14].map((index) => Number(fields[index]));
  if (![ppid, utime, stime, cutime, cstime].every((n) => Number.isFinite(n))) return null;
  return { ppid: ppid!, ownTicks: utime! + stime!, reapedChildrenTicks: cutime! + cstime! };
}

/**
 * Inodes of the sockets listening on `port` in a /proc/net/tcp or tcp6 table
 * (`sl local_address rem_address st … inode`, addresses as hex IP:port, state 0A = LISTEN).
 */
export function listeningInodes(table: string, port: number): string[] {
  const inodes: string[] = [];
  for (const line of table.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const local = fields[1];
    if (!local || fields[3] !== "0A") continue;
    if (Number.parseInt(local.slice(local.lastIndexOf(":") + 1), 16) === port && fields[9]) {
      inodes.push(fields[9]);
    }
  }
  return inodes;
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

const pidsOf = () => readdirSync("/proc").filter((name) => /^\d+$/.test(name));

/** The process listening on each port (its pid), found through its socket inode. */
export function listeningPids(ports: readonly number[]): Map<number, number> {
  const portOfInode = new Map<string, number>();
  const tables = readOrEmpty("/proc/net/tcp") + readOrEmpty("/proc/net/tcp6");
  for (const port of ports) for (const inode of listeningInodes(tables, port)) portOfInode.set(inode, port);
  const found = new Map<number, number>();
  if (portOfInode.size === 0) return found;
  let pids: string[];
  try {
    pids = pidsOf();
  } catch {
    return found;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      const port = inode === undefined ? undefined : portOfInode.get(inode);
      if (port !== undefined && !found.has(port)) found.set(port, Number(pid));
    }
    if (found.size === new Set(portOfInode.values()).size) break;
  }
  return found;
}

/** CPU ticks per process of the server trees rooted at `roots` (a root's reaped children included). */
export type ServerCpuSnapshot = ReadonlyMap<number, number>;

/**
 * Each root and its descendants (PostgreSQL forks a backend per connection), with their CPU ticks
 * now. Pure over a table of stats, so it can be tested with crafted ones.
 */
export function serverTreeTicks(
  stats: ReadonlyMap<number, ProcStat>,
  roots: readonly number[],
): Map<number, number> {
  const children = new Map<number, number[]>();
  for (const [pid, stat] of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), pid]);
  const ticks = new Map<number, number>();
  const visit = (pid: number, isRoot: boolean) => {
    const stat = stats.get(pid);
    if (!stat || ticks.has(pid)) return;
    ticks.set(pid, stat.ownTicks + (isRoot ? stat.reapedChildrenTicks : 0));
    for (const child of children.get(pid) ?? []) visit(child, false);
  };
  for (const root of roots) visit(root, true);
  return ticks;
}

/** Ticks of the server trees now; an empty map when there are no roots or no /proc. */
export function takeServerCpuSnapshot(roots: readonly number[]): ServerCpuSnapshot {
  if (roots.length === 0) return new Map();
  const stats = new Map<number, ProcStat>();
  let pids: string[];
  try {
    pids = pidsOf();
  } catch {
    return new Map();
  }
  for (const pid of pids) {
    const stat = parseProcStat(readOrEmpty(`/proc/${pid}/stat`));
    if (stat) stats.set(Number(pid), stat);
  }
  return serverTreeTicks(stats, roots);
}

/**
 * CPU ms the servers used between two snapshots. A process that appeared in between counts from
 * zero; one that exited is counted in its parent's reaped-children time once it is reaped.
 */
export function serverCpuMsBetween(before: ServerCpuSnapshot, after: ServerCpuSnapshot): number {
  let ticks = 0;
  for (const [pid, now] of after) ticks += Math.max(0, now - (before.get(pid) ?? 0));
  return (ticks * 1000) / clockTicksPerSecond();
}
