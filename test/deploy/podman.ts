import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { infraRequired } from "../support/infra.js";
import { commandOnPath } from "../support/spawned-server.js";

const run = promisify(execFile);

export const REPOSITORY_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const IMAGE = "localhost/floodgate:test";

/**
 * Containers run here as root with runc (crun fails on this kernel's cgroups) and explicit
 * ulimits below the host's hard limits (podman's defaults ask for more and are refused).
 */
export const RUN_FLAGS = ["--runtime", "runc", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"];

/**
 * True when podman can be used. Locally a missing podman skips the container tests; with
 * FLOODGATE_REQUIRE_INFRA=1 (CI, whose .ci/run installs it) it fails them.
 */
export function podmanAvailable(): boolean {
  const present = commandOnPath("podman") && commandOnPath("debootstrap") && process.getuid?.() === 0;
  if (!present && infraRequired) {
    throw new Error("podman and debootstrap (as root) are required with FLOODGATE_REQUIRE_INFRA=1");
  }
  return present;
}

export function podman(args: readonly string[], timeoutMs = 120_000): Promise<string> {
  return podmanWithConf(undefined, args, timeoutMs);
}

/** podman with CONTAINERS_CONF set (for commands that take no --runtime or --ulimit, as kube play). */
export async function podmanWithConf(
  containersConf: string | undefined,
  args: readonly string[],
  timeoutMs = 120_000,
): Promise<string> {
  try {
    const { stdout } = await run("podman", [...args], {
      cwd: REPOSITORY_ROOT,
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
      env: containersConf ? { ...process.env, CONTAINERS_CONF: containersConf } : process.env,
    });
    return stdout.trim();
  } catch (error) {
    const failed = error as { stderr?: string; stdout?: string; message: string };
    throw new Error(
      `podman ${args.join(" ")} failed: ${failed.message}\n${failed.stderr ?? ""}`.slice(0, 20_000),
    );
  }
}

/**
 * Builds (or finds, when nothing changed) the local Node base image and the Floodgate image from
 * the Dockerfile. The base image is cached under a tag that names its inputs; the image's layers
 * are cached by podman, so a second run rebuilds only what changed.
 */
export async function buildImage(): Promise<string> {
  const { stdout } = await run(`${REPOSITORY_ROOT}/deploy/container/build-local-base-image.sh`, [], {
    timeout: 900_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  const base = stdout.trim().split("\n").at(-1)!;
  await podman(
    [
      "build",
      ...RUN_FLAGS,
      "--format",
      "docker",
      "--build-arg",
      `BASE_IMAGE=${base}`,
      // This machine reaches the npm registry through a TLS-inspecting proxy whose CA is in the
      // system bundle; the Dockerfile takes it as an optional build secret.
      "--secret",
      "id=npm_ca,src=/etc/ssl/certs/ca-certificates.crt",
      "--tag",
      IMAGE,
      ".",
    ],
    900_000,
  );
  return IMAGE;
}

export async function removeContainers(names: readonly string[]): Promise<void> {
  if (names.length === 0) return;
  await podman(["rm", "--force", "--volumes", "--ignore", "--time", "5", ...names]).catch(() => {});
}

export async function waitForReady(
  url: string,
  timeoutMs: number,
  describe: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not become ready:\n${await describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
