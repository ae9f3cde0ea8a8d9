import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./child-server.js";
import { infraRequired } from "./infra.js";
import { commandOnPath, type SpawnedServer, spawnServer } from "./spawned-server.js";

const run = promisify(execFile);

/** Persistence off: these servers hold throwaway test data and must never write to disk. */
const NO_PERSISTENCE = ["--save", "", "--appendonly", "no"];

/**
 * True when redis-server and redis-cli are installed. When they are not: throws if infrastructure
 * is required (FLOODGATE_REQUIRE_INFRA=1), otherwise returns false so the caller can skip.
 */
export function redisBinariesAvailable(): boolean {
  const missing = ["redis-server", "redis-cli"].filter((command) => !commandOnPath(command));
  if (missing.length > 0 && infraRequired) {
    throw new Error(`${missing.join(" and ")} not installed and FLOODGATE_REQUIRE_INFRA=1`);
  }
  return missing.length === 0;
}

/**
 * A redis-server of the test's own on a free loopback port, for tests that stop the server (the
 * shared one on :6379 is never stopped). Kill it with `kill()` when done.
 */
export function startRedisServer(): Promise<SpawnedServer> {
  return spawnServer({
    name: "redis-server",
    command: "redis-server",
    args: (port) => ["--port", String(port), "--bind", "127.0.0.1", "--daemonize", "no", ...NO_PERSISTENCE],
  });
}

export interface RedisCluster {
  /** The masters, in the order given to `redis-cli --cluster create`. */
  readonly masters: readonly SpawnedServer[];
  /** `redis-cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` */
  readonly url: string;
  /** Runs `redis-cli -p <port> <args…>` against one master and returns its output. */
  cli(master: SpawnedServer, ...args: string[]): Promise<string>;
  /** Resolves when every master reports `cluster_state:ok` and knows every slot. */
  waitUntilHealthy(timeoutMs?: number): Promise<void>;
  /** Kills every master and removes the temp dir. Safe to call twice, and after a failed start. */
  stop(): Promise<void>;
}

const MASTER_COUNT = 3;
const ALL_SLOTS = 16_384;
const CLI_TIMEOUT_MS = 10_000;

/**
 * Three redis-server masters (no replicas) as child processes on free loopback ports, joined into
 * one cluster with `redis-cli --cluster create`. Each node's cluster state lives in a temp dir, so
 * a killed master restarted with `restart()` rejoins with its old id and slots (but no data).
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), "floodgate-redis-cluster-"));
  const masters: SpawnedServer[] = [];
  let stopped = false;

  const cli = async (master: SpawnedServer, ...args: string[]) => {
    const { stdout } = await run("redis-cli", ["-h", master.host, "-p", String(master.port), ...args], {
      timeout: CLI_TIMEOUT_MS,
    });
    return stdout;
  };

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(masters.map((master) => master.kill()));
    await rm(dir, { recursive: true, force: true });
  };

  const waitUntilHealthy = async (timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    let lastReport = "";
    for (;;) {
      const reports = await Promise.all(
        masters.map((master) => cli(master, "cluster", "info").catch(String)),
      );
      const healthy = reports.every(
        (report) =>
          report.includes("cluster_state:ok") &&
          report.includes(`cluster_slots_ok:${ALL_SLOTS}`) &&
          report.includes(`cluster_known_nodes:${MASTER_COUNT}`),
      );
      if (healthy) return;
      lastReport = reports.join("\n---\n");
      if (Date.now() > deadline) throw new Error(`Redis Cluster did not become healthy:\n${lastReport}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  try {
    for (let index = 0; index < MASTER_COUNT; index++) {
      // The cluster bus gets its own free port: the default (port + 10000) may be taken, or above 65535.
      const busPort = await freePort();
      masters.push(
        await spawnServer({
          name: `redis-cluster-master-${index}`,
          command: "redis-server",
          cwd: dir,
          args: (port) => [
            "--port",
            String(port),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            join(dir, `nodes-${port}.conf`),
            "--cluster-port",
            String(busPort),
            // The masters still up keep serving their own slots while a test has one master down,
            // so the test can tell "this master is down" apart from "the whole cluster is down".
            "--cluster-require-full-coverage",
            "no",
            "--dir",
            dir,
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "no",
            ...NO_PERSISTENCE,
          ],
        }),
      );
    }
    await run(
      "redis-cli",
      [
        "--cluster",
        "create",
        ...masters.map((master) => `${master.host}:${master.port}`),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
      ],
      { timeout: 30_000 },
    );
    await waitUntilHealthy();
  } catch (error) {
    const output = masters.map((master) => `${master.name}:\n${master.output()}`).join("\n");
    await stop();
    throw new Error(`could not start a Redis Cluster: ${String(error)}\n${output}`, { cause: error });
  }

  return {
    masters,
    url: `redis-cluster://${masters.map((master) => `${master.host}:${master.port}`).join(",")}`,
    cli,
    waitUntilHealthy,
    stop,
  };
}
