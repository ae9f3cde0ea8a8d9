import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { TokenService } from "../../src/platform/auth/tokens.js";

const BIN = fileURLToPath(new URL("../../bin/floodgate.mjs", import.meta.url));

function floodgate(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("floodgate CLI", () => {
  it("lists its commands in --help", () => {
    const { code, stdout } = floodgate(["--help"]);
    expect(code).toBe(0);
    for (const command of ["start", "service", "token", "migrate", "docs"]) expect(stdout).toContain(command);
  });

  it("prints a token that the configured secret verifies", () => {
    const secret = "cli-test-secret-cli-test-secret-0123456789";
    const { code, stdout } = floodgate(["token", "--user", "alice", "--admin"], {
      FLOODGATE_AUTH_SECRET: secret,
    });
    expect(code).toBe(0);
    const principal = new TokenService(secret).authenticate(`Bearer ${stdout.trim()}`);
    expect(principal).toEqual({ userId: "alice", admin: true, service: false });
  });

  it("generates the embedded secret once in the data dir and reuses it", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "floodgate-cli-"));
    const first = floodgate(["token", "--user", "bob"], { FLOODGATE_DATA_DIR: dataDir });
    const second = floodgate(["token", "--user", "carol"], { FLOODGATE_DATA_DIR: dataDir });
    expect([first.code, second.code]).toEqual([0, 0]);
    const path = join(dataDir, "auth-secret");
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const tokens = new TokenService(readFileSync(path, "utf8").trim());
    expect(tokens.authenticate(`Bearer ${first.stdout.trim()}`).userId).toBe("bob");
    expect(tokens.authenticate(`Bearer ${second.stdout.trim()}`).userId).toBe("carol");
  });

  it("stops on a bad setting with a message naming the variable and what it accepts", () => {
    const { code, stderr } = floodgate(["start"], { FLOODGATE_PORT: "http" });
    expect(code).toBe(2);
    expect(stderr).toContain("FLOODGATE_PORT accepts an integer from 0 to 65535");
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace for a configuration mistake
  });

  it("refuses split order roles on the embedded queue, which no other process reads", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "floodgate-cli-"));
    for (const role of ["intake", "worker"]) {
      const { code, stderr } = floodgate(["service", "orders"], {
        FLOODGATE_DATA_DIR: dataDir,
        FLOODGATE_ORDERS_ROLE: role,
      });
      expect(code).toBe(2);
      expect(stderr).toContain(
        `FLOODGATE_ORDERS_ROLE=${role} needs a queue that the intake and worker processes share`,
      );
      expect(stderr).toContain("Set FLOODGATE_QUEUE_URL to a shared broker");
      expect(stderr).not.toMatch(/\n\s+at /);
    }
    // Refused before anything was opened: no stores were created in the data dir.
    expect(readdirSync(dataDir)).toEqual([]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("refuses an unknown service name", () => {
    const { code, stderr } = floodgate(["service", "billing"]);
    expect(code).not.toBe(0);
    expect(stderr).toContain("expected one of catalog, inventory, sales, orders");
  });

  it("rejects a malformed user id for a token", () => {
    const { code, stderr } = floodgate(["token", "--user", "bad user!"], {
      FLOODGATE_AUTH_SECRET: "x".repeat(40),
    });
    expect(code).not.toBe(0);
    expect(stderr).toContain("user id must match");
  });
});
