import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { SETTINGS } from "../../../src/platform/config/settings.js";
import { openJetStream } from "../../../src/platform/queue/nats/jetstream-stream.js";
import type { Stream } from "../../../src/platform/queue/stream.js";
import { type ChildServer, freePort, startChildServer } from "../../support/child-server.js";
import { servers } from "../../support/infra.js";
import { deleteStreams } from "../../support/nats-streams.js";
import {
  createScratchPostgresDatabase,
  type ScratchPostgresDatabase,
} from "../../support/scratch-postgres.js";

export const SERVICE_PROCESS_SECRET = "lifecycle-crash-test-secret-of-32-chars-or-more";

/**
 * One Floodgate service in a process of its own (`floodgate service <name>`), as production runs
 * it: on the NATS JetStream server at :4222 (streams under a prefix of its own) and a fresh
 * PostgreSQL database on :5432. The test publishes on the same streams and reads the database.
 */
export interface ServiceProcess {
  /** The broker, as the test's publisher. */
  readonly stream: Stream;
  start(): Promise<ChildServer>;
  /** `kill -9`: no shutdown, no flush, nothing finished. */
  killHard(): Promise<void>;
  query<R extends pg.QueryResultRow>(text: string, params?: unknown[]): Promise<R[]>;
  output(): string;
  close(): Promise<void>;
}

export async function openServiceProcess(
  service: "notifications" | "loyalty",
  env: Record<string, string> = {},
): Promise<ServiceProcess> {
  const prefix = `${service.slice(0, 4)}kill${randomBytes(4).toString("hex")}`;
  const streamPrefix = `${prefix.toUpperCase()}_`;
  const dir = mkdtempSync(join(tmpdir(), `floodgate-${service}-kill-`));
  const database: ScratchPostgresDatabase = await createScratchPostgresDatabase();
  const stream = await openJetStream(servers.nats.url, { streamPrefix, subjectPrefix: prefix });
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  let child: ChildServer | undefined;
  let earlierOutput = "";
  const childEnv = {
    FLOODGATE_DATA_DIR: join(dir, "data"),
    FLOODGATE_AUTH_SECRET: SERVICE_PROCESS_SECRET,
    FLOODGATE_DATABASE_URLS: database.url,
    FLOODGATE_QUEUE_URL: servers.nats.url,
    FLOODGATE_QUEUE_PREFIX: prefix,
    FLOODGATE_WORKER_ID: "7",
    FLOODGATE_SEED_DEMO: "false",
    FLOODGATE_LOG_LEVEL: "warn",
    ...env,
  };
  return {
    stream,
    async start() {
      if (child) earlierOutput += child.output();
      // A production process hosting some services serves /internal/* on a port of its own.
      const internal: Record<string, string> = Object.hasOwn(SETTINGS, "internalPort")
        ? { FLOODGATE_INTERNAL_PORT: String(await freePort()) }
        : {};
      child = await startChildServer(["service", service], { ...childEnv, ...internal }, await freePort());
      return child;
    },
    async killHard() {
      await child?.kill("SIGKILL");
    },
    async query(text, params) {
      return (await client.query(text, params)).rows;
    },
    output: () => earlierOutput + (child?.output() ?? ""),
    async close() {
      await child?.kill("SIGKILL");
      await stream.close();
      await client.end();
      await database.drop();
      await deleteStreams(servers.nats.url, streamPrefix);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
