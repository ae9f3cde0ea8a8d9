import { execFileSync } from "node:child_process";
import { cpus, platform, release, totalmem } from "node:os";
import { REPOSITORY_ROOT } from "./target/child-process.js";

/** The facts that decide whether two results can be compared: code, machine, runtime. */
export interface BenchEnvironment {
  readonly commit: string | null;
  /** Uncommitted changes were present: the commit alone does not reproduce these numbers. */
  readonly dirty: boolean | null;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly os: string;
  readonly memoryMb: number;
}

function git(args: readonly string[]): string | null {
  try {
    return execFileSync("git", args, {
      cwd: REPOSITORY_ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
  } catch {
    return null;
  }
}

export function describeEnvironment(): BenchEnvironment {
  const status = git(["status", "--porcelain", "--untracked-files=no"]);
  return {
    commit: git(["rev-parse", "HEAD"]),
    dirty: status === null ? null : status !== "",
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    node: process.version,
    os: `${platform()} ${release()}`,
    memoryMb: Math.round(totalmem() / 1024 / 1024),
  };
}
