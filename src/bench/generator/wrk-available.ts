import { spawnSync } from "node:child_process";

/** True when a `wrk` binary is on PATH (Debian package wrk). */
export function wrkAvailable(): boolean {
  return spawnSync("wrk", ["--version"], { stdio: "ignore" }).error === undefined;
}
