import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type JetStreamOptions, openJetStream } from "../../../src/platform/queue/nats/jetstream-stream.js";
import type { ConsumerGroup, GroupOptions, Stream } from "../../../src/platform/queue/stream.js";
import { infraRequired, serverAvailable, servers } from "../../support/infra.js";
import { deleteStreams } from "../../support/nats-streams.js";
import { appendUntilBrokerKilled, drainAndAck } from "./fixtures/broker-crash.js";
import {
  type BrokerProcess,
  natsServerBinary,
  natsServerVersion,
  natsSupportsSyncAlways,
  startNatsServer,
} from "./fixtures/broker-processes.js";
import { describeStreamConformance } from "./stream-conformance.js";

const natsUp = await serverAvailable("nats");

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (value: string): Uint8Array => encoder.encode(value);

const PATIENT: GroupOptions = { visibilityTimeoutMs: 30_000, maxAttempts: 5 };

/** Streams persist on the shared server, so every stream this file creates carries a unique prefix. */
const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`.toUpperCase();
let instanceCounter = 0;
function isolatedOptions(): JetStreamOptions & { streamPrefix: string } {
  instanceCounter += 1;
  return {
    streamPrefix: `FGTEST_${runId}_${instanceCounter}_`,
    subjectPrefix: `fgtest.${runId}.${instanceCounter}`,
  };
}

/** Fetches until the group has nothing more, acking everything; returns the payloads in order. */
async function drain(group: ConsumerGroup): Promise<string[]> {
  const values: string[] = [];
  for (;;) {
    const deliveries = await group.fetch(1_000, 200);
    if (deliveries.length === 0) {
      return values;
    }
    for (const delivery of deliveries) {
      values.push(decoder.decode(delivery.data));
      await delivery.ack();
    }
  }
}

async function eventually<T>(attempt: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe.skipIf(!natsUp)("NATS JetStream adapter (shared server)", () => {
  describeStreamConformance("NATS JetStream", async () => {
    const options = isolatedOptions();
    const opened: Stream[] = [await openJetStream(servers.nats.url, options)];
    return {
      stream: opened[0]!,
      reopen: async () => {
        const stream = await openJetStream(servers.nats.url, options);
        opened.push(stream);
        return stream;
      },
      cleanup: async () => {
        await Promise.all(opened.map((stream) => stream.close()));
        await deleteStreams(servers.nats.url, options.streamPrefix);
      },
    };
  });

  describe("de-duplication", () => {
    let options: ReturnType<typeof isolatedOptions>;
    let stream: Stream;

    beforeEach(async () => {
      options = isolatedOptions();
      stream = await openJetStream(servers.nats.url, { ...options, duplicateWindowMs: 60_000 });
    });

    afterEach(async () => {
      await stream.close();
      await deleteStreams(servers.nats.url, options.streamPrefix);
    });

    it("stores a message once per dedupId (Nats-Msg-Id) within the stream's duplicate window", async () => {
      await Promise.all([
        stream.append("orders", text("first"), { dedupId: "order-1" }),
        stream.append("orders", text("retry"), { dedupId: "order-1" }),
        stream.append("orders", text("other"), { dedupId: "order-2" }),
      ]);
      // Resolves like the first append did: the message with this id is stored.
      await stream.append("orders", text("late retry"), { dedupId: "order-1" });
      await stream.append("orders", text("no id"));

      expect((await stream.stats("orders")).appended).toBe(3);
      expect(await drain(stream.group("orders", "readers", PATIENT))).toEqual(["first", "other", "no id"]);

      const connection = await connect({ servers: servers.nats.url });
      try {
        const manager = await jetstreamManager(connection);
        const { config } = await manager.streams.info(`${options.streamPrefix}orders`);
        expect(config.duplicate_window).toBe(60_000 * 1_000_000);
        expect(config.storage).toBe("file");
      } finally {
        await connection.close();
      }
    });
  });
});

const syncAlways = natsServerBinary !== undefined && natsSupportsSyncAlways(natsServerBinary);
const serverDescription =
  natsServerBinary === undefined
    ? "no nats-server binary"
    : `nats-server ${natsServerVersion(natsServerBinary).join(".")}, ` +
      (syncAlways ? "sync_interval: always" : "too old for sync_interval: always, so kill -9 only");

describe.skipIf(natsServerBinary === undefined && !infraRequired)(
  `NATS JetStream adapter (own server: ${serverDescription})`,
  () => {
    let directory: string;
    let broker: BrokerProcess;
    let stream: Stream | undefined;

    beforeEach(async () => {
      if (natsServerBinary === undefined) {
        throw new Error("nats-server is not installed and FLOODGATE_REQUIRE_INFRA=1");
      }
      directory = await mkdtemp(join(tmpdir(), "floodgate-nats-"));
      broker = await startNatsServer(natsServerBinary, directory);
    });

    afterEach(async () => {
      await stream?.close();
      stream = undefined;
      await broker.kill("SIGKILL");
      await rm(directory, { recursive: true, force: true });
    });

    it("rejects an append within the request timeout while the server is down, then reconnects by itself", async () => {
      stream = await openJetStream(broker.url, { requestTimeoutMs: 1_000, reconnectWaitMs: 100 });
      await stream.append("orders", text("before"));
      const group = stream.group("orders", "workers", PATIENT);
      const [before] = await group.fetch(1, 5_000);
      await before!.ack();

      await broker.kill("SIGKILL");
      const appendStarted = Date.now();
      await expect(stream.append("orders", text("while down"))).rejects.toThrow();
      expect(Date.now() - appendStarted).toBeLessThan(1_000 + 2_000);

      // A fetch neither hangs nor rejects while the server is away: it waits out waitMs.
      const fetchStarted = Date.now();
      expect(await group.fetch(10, 300)).toEqual([]);
      expect(Date.now() - fetchStarted).toBeLessThan(300 + 2_000);

      await broker.restart();
      await eventually(() => stream!.append("orders", text("after")), 20_000);
      const values = await drain(group);
      expect(values).toContain("after");
      // "while down" was rejected, so it may or may not be stored; "before" was acked, but the
      // server writes consumer acks asynchronously, so a kill may bring it back (at-least-once).
      expect(values.every((value) => ["before", "while down", "after"].includes(value))).toBe(true);
    });

    it("delivers every acknowledged append after kill -9 and a restart, each once", async () => {
      stream = await openJetStream(broker.url, { requestTimeoutMs: 2_000, reconnectWaitMs: 100 });
      const group = stream.group("orders", "workers", PATIENT);
      await group.fetch(1, 0); // the durable consumer exists before the crash

      const round = await appendUntilBrokerKilled(stream, "orders", broker, {
        prefix: "order",
        killAfter: 300,
        appenders: 20,
      });
      expect(round.acknowledged.length).toBeGreaterThanOrEqual(300);
      // Appends in flight at the kill were rejected within the request timeout, not left hanging.
      expect(round.settleMs).toBeLessThan(2_000 + 3_000);

      await broker.restart();
      const delivered = await drainAndAck(group, new Set(round.acknowledged), 40_000);

      const deliveredSet = new Set(delivered);
      expect(round.acknowledged.filter((value) => !deliveredSet.has(value))).toEqual([]);
      expect(delivered.length).toBe(deliveredSet.size); // no duplicates
      const attempted = new Set(round.attempted);
      expect(delivered.filter((value) => !attempted.has(value))).toEqual([]);
      expect(await group.fetch(10, 300)).toEqual([]);
      expect(await group.lag()).toBe(0);
    });
  },
);
