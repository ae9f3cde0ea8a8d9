import { existsSync } from "node:fs";
import { userInfo } from "node:os";
import { infraRequired } from "./infra.js";
import { type SpawnedServer, spawnServer } from "./spawned-server.js";

/** Where the Debian package puts it; .ci/run installs it when it is missing. */
export const MEMCACHED_BINARY = "/usr/bin/memcached";

/**
 * True when memcached is installed. When it is not: throws if infrastructure is required
 * (FLOODGATE_REQUIRE_INFRA=1), otherwise returns false so the caller can skip.
 */
export function memcachedAvailable(): boolean {
  const installed = existsSync(MEMCACHED_BINARY);
  if (!installed && infraRequired) {
    throw new Error(`${MEMCACHED_BINARY} is not installed and FLOODGATE_REQUIRE_INFRA=1`);
  }
  return installed;
}

/**
 * A memcached of the test's own on a free loopback port (TCP only, 64 MB), never the system one
 * the Debian package may have started on 11211. Stop it with `kill()`.
 */
export function startMemcached(): Promise<SpawnedServer> {
  // memcached refuses to run as root unless told which user to run as.
  const runAs = process.getuid?.() === 0 ? ["-u", userInfo().username] : [];
  return spawnServer({
    name: "memcached",
    command: MEMCACHED_BINARY,
    args: (port) => ["-l", "127.0.0.1", "-p", String(port), "-U", "0", "-m", "64", ...runAs],
  });
}
