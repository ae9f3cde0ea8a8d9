import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { inspect } from "node:util";
import { createSigner } from "fast-jwt";
import { afterAll, describe, expect, it } from "vitest";
import { keyIdOf } from "../../src/platform/auth/tokens.js";
import { openBroadcast } from "../../src/platform/broadcast/open-broadcast.js";
import { loadConfig } from "../../src/platform/config/load-config.js";
import type { SettingKey } from "../../src/platform/config/settings.js";
import { redactUrl } from "../../src/platform/config/url-redaction.js";
import { createLogger, type Logger } from "../../src/platform/observability/logger.js";
import { Metrics } from "../../src/platform/observability/metrics.js";
import { openReservationBook } from "../../src/platform/reservations/open-reservation-book.js";
import { openCaching } from "../../src/runtime/caching.js";
import { runServices } from "../../src/runtime/run-services.js";

/**
 * No secret in a log line or an error message: each failing path below runs with passwords in its
 * URLs (servers that refuse: port 1) or with a known auth secret, every log line at `trace` is
 * kept, and every error is kept whole (message, stack, cause chain, own fields: util.inspect), and
 * none may contain the secret.
 */
const PASSWORD = "s3cretPW";
const AUTH_SECRET = `auth-${PASSWORD}-`.repeat(4);
const REFUSED = "127.0.0.1:1";

/** Log lines and thrown errors, as text, to scan. */
class Capture {
  private text = "";
  readonly logger: Logger;

  constructor() {
    const sink = new Writable({
      write: (chunk, _encoding, done) => {
        this.text += String(chunk);
        done();
      },
    });
    this.logger = createLogger("trace", {}, sink);
  }

  /** Runs `attempt`, which must fail, and keeps its error whole. */
  async failure(attempt: () => Promise<unknown>): Promise<string> {
    try {
      await attempt();
    } catch (error) {
      const shown = inspect(error, { depth: 10 });
      this.text += shown;
      return shown;
    }
    throw new Error("expected the attempt to fail");
  }

  get output(): string {
    return this.text;
  }
}

/** Fails with the lines that hold the secret, the secret itself masked: a red run leaks nothing. */
function expectNoSecret(text: string): void {
  const leaks = text
    .split("\n")
    .filter((line) => line.includes(PASSWORD))
    .map((line) => line.replaceAll(PASSWORD, "<SECRET>").trim());
  expect(leaks).toEqual([]);
}

const dataDirs: string[] = [];
const dataDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "floodgate-secrets-"));
  dataDirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

const configWith = (overrides: Partial<Record<SettingKey, string>>) =>
  loadConfig({
    env: {},
    overrides: { port: "0", dataDir: dataDir(), seedDemo: "false", env: "development", ...overrides },
  });

describe("secrets stay out of logs and error messages", () => {
  it("redacts every server a URL names, passwords and NATS tokens alike", () => {
    expect(redactUrl(`nats://u:${PASSWORD}@a:4222,nats://${PASSWORD}@b:4222`)).toBe(
      "nats://u:***@a:4222,nats://***@b:4222",
    );
    expect(redactUrl(`redis://:${PASSWORD}@h:6379/2`)).toBe("redis://:***@h:6379/2");
    expect(redactUrl("redis://h:6379")).toBe("redis://h:6379");
  });

  it.each([
    ["a NATS queue", { queueUrl: `nats://floodgate:${PASSWORD}@${REFUSED}` }],
    ["a NATS queue with a token", { queueUrl: `nats://${PASSWORD}@${REFUSED}` }],
    ["a Redis Streams queue", { queueUrl: `redis://floodgate:${PASSWORD}@${REFUSED}` }],
    ["a PostgreSQL database", { databaseUrls: `postgres://floodgate:${PASSWORD}@${REFUSED}/floodgate` }],
  ] as const)("a process that cannot reach %s", async (_what, overrides) => {
    const capture = new Capture();
    const shown = await capture.failure(() => runServices(configWith(overrides), capture.logger));
    expect(shown).toMatch(/127\.0\.0\.1:1/); // the error says where it failed to connect
    expectNoSecret(capture.output);
  });

  it("the shared cache, the stock and the broadcast that cannot connect", async () => {
    const capture = new Capture();
    const redis = `redis://floodgate:${PASSWORD}@${REFUSED}`;
    const onError = (error: unknown) => capture.logger.warn({ err: error }, "connection error");
    for (const cacheUrl of [redis, `memcached://floodgate:${PASSWORD}@${REFUSED}`]) {
      await capture.failure(() => openCaching(configWith({ cacheUrl }), new Metrics(), capture.logger));
    }
    await capture.failure(() => openReservationBook(redis, { prefix: "secrets:", onError }));
    await capture.failure(() => openBroadcast(redis, { prefix: "secrets", onError }));
    await capture.failure(() =>
      openBroadcast(`nats://floodgate:${PASSWORD}@${REFUSED}`, { prefix: "secrets", onError }),
    );
    expect(capture.output).toMatch(/127\.0\.0\.1:1/);
    expectNoSecret(capture.output);
  });

  it("settings refused at start name the setting, not its password", async () => {
    const capture = new Capture();
    for (const overrides of [
      { cacheUrl: `floodgate:${PASSWORD}@${REFUSED}` },
      { queueUrl: `ftp://floodgate:${PASSWORD}@${REFUSED}` },
      { databaseUrls: `postgres://floodgate:${PASSWORD}@${REFUSED}/db,not a url` },
    ]) {
      await capture.failure(async () => configWith(overrides));
    }
    expectNoSecret(capture.output);
  });

  it("the auth secret: not in a running process's logs, nor in its answers to bad tokens", async () => {
    const capture = new Capture();
    const running = await runServices(
      configWith({ authSecret: AUTH_SECRET, logLevel: "trace" }),
      capture.logger,
    );
    try {
      const now = Math.floor(Date.now() / 1000);
      const kid = keyIdOf(AUTH_SECRET);
      const tokens = [
        createSigner({ key: AUTH_SECRET, algorithm: "HS256", kid })({ sub: "u", exp: now - 60 }),
        createSigner({ key: "x".repeat(40), algorithm: "HS256", kid })({ sub: "u", exp: now + 60 }),
        createSigner({ key: AUTH_SECRET, algorithm: "HS512", kid })({ sub: "u", exp: now + 60 }),
        `${Buffer.from(JSON.stringify({ alg: "none", kid })).toString("base64url")}.e30.`,
        "not-a-token",
      ];
      let answers = "";
      for (const token of tokens) {
        for (const path of ["/me/orders", "/admin/orders"]) {
          const response = await fetch(`${running.url}${path}`, {
            headers: { authorization: `Bearer ${token}` },
          });
          answers += await response.text();
        }
      }
      expect(answers).toContain("unauthorized");
      expectNoSecret(answers + capture.output);
    } finally {
      await running.close();
    }
    expect(capture.output).toContain("service started"); // the logs were captured
    expectNoSecret(capture.output);
  });
});
