import { describe, expect, it } from "vitest";
import { clockTicksPerSecond } from "../../src/bench/proc-clock.js";
import {
  listeningInodes,
  listeningPids,
  type ProcStat,
  parseProcStat,
  serverCpuMsBetween,
  serverTreeTicks,
} from "../../src/bench/server-cpu.js";

const TCP_TABLE = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:108E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   2: 0100007F:18EB 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 5555 1 0000000000000000 20 4 30 10 -1
`;

describe("the CPU of the servers a target works through", () => {
  it("reads a process's parent and CPU ticks from /proc/<pid>/stat, whatever its name holds", () => {
    const stat = "2211 (redis-server 127.0) S 1 2211 2211 0 -1 4194560 1 0 0 0 540 27 3 4 20 0 5 0 1 1 1";
    expect(parseProcStat(stat)).toEqual({ ppid: 1, ownTicks: 567, reapedChildrenTicks: 7 });
    expect(parseProcStat("garbage")).toBeNull();
  });

  it("finds the sockets listening on a port, not the connections to it", () => {
    expect(listeningInodes(TCP_TABLE, 6379)).toEqual(["31337"]);
    expect(listeningInodes(TCP_TABLE, 4238)).toEqual(["4242"]);
    expect(listeningInodes(TCP_TABLE, 5432)).toEqual([]);
  });

  it("adds a server's children (PostgreSQL backends) and, for the root, the children it reaped", () => {
    const stats = new Map<number, ProcStat>([
      [1, { ppid: 0, ownTicks: 999, reapedChildrenTicks: 0 }],
      [100, { ppid: 1, ownTicks: 50, reapedChildrenTicks: 20 }],
      [101, { ppid: 100, ownTicks: 30, reapedChildrenTicks: 5 }],
      [102, { ppid: 101, ownTicks: 7, reapedChildrenTicks: 0 }],
      [200, { ppid: 1, ownTicks: 40, reapedChildrenTicks: 0 }],
    ]);
    expect(serverTreeTicks(stats, [100])).toEqual(
      new Map([
        [100, 70],
        [101, 30],
        [102, 7],
      ]),
    );
    expect(serverTreeTicks(stats, [100, 200]).get(200)).toBe(40);
    expect(serverTreeTicks(stats, [404]).size).toBe(0);
  });

  it("counts what each process spent between two snapshots; a new process from zero", () => {
    const ticks = clockTicksPerSecond();
    const before = new Map([
      [100, 10 * ticks],
      [101, 2 * ticks],
    ]);
    const after = new Map([
      [100, 10.5 * ticks],
      [101, 2.25 * ticks],
      [103, 0.25 * ticks],
    ]);
    expect(serverCpuMsBetween(before, after)).toBeCloseTo(1000, 6);
  });

  it.skipIf(process.platform !== "linux")("finds nothing listening on a port nobody uses", () => {
    expect(listeningPids([1]).size).toBe(0);
  });
});
