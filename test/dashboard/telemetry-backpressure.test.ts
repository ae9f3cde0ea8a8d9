import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer } from "../../src/platform/http/server.js";
import {
  EVENT_STREAM_MAX_BUFFERED_BYTES,
  registerTelemetryRoutes,
} from "../../src/platform/http/telemetry-routes.js";
import { createLogger } from "../../src/platform/observability/logger.js";
import { Metrics } from "../../src/platform/observability/metrics.js";
import type { TelemetrySample } from "../../src/platform/observability/telemetry.js";

/** Big samples, so the kernel's socket buffers (a few MB on loopback) fill in a few hundred. */
const SAMPLE_PAD = 32_000;
/** Far more than the kernel's buffers and the bound together: 32 MB. */
const MAX_SAMPLES = 1000;

/** Stands in for the sampler: the test decides when a sample is taken. */
class ScriptedSampler {
  private readonly listeners = new Set<(sample: TelemetrySample) => void>();
  get subscribers(): number {
    return this.listeners.size;
  }
  since(): TelemetrySample[] {
    return [];
  }
  subscribe(listener: (sample: TelemetrySample) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(n: number): void {
    const sample = { at: n, pad: "x".repeat(SAMPLE_PAD) } as unknown as TelemetrySample;
    for (const listener of this.listeners) listener(sample);
  }
}

/** A raw HTTP client of the event stream; `read: false` never reads a byte after connecting. */
function openStream(port: number, read: boolean): { socket: Socket; samples: () => number } {
  const socket = connect(port, "127.0.0.1");
  socket.write("GET /dashboard/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  let samples = 0;
  if (read) {
    // The body is chunked; counting the marker needs no parsing of the chunks.
    const marker = "event: sample";
    let tail = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      let text = tail + chunk;
      for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker)) {
        samples++;
        text = text.slice(at + marker.length);
      }
      tail = text.slice(-(marker.length - 1));
    });
  } else {
    socket.pause();
  }
  socket.on("error", () => {});
  return { socket, samples: () => samples };
}

/** Waits (without sleeping a fixed time) until `done` holds; fails after `timeoutMs`. */
async function until(done: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe("the telemetry event stream under a client that does not read", () => {
  const sampler = new ScriptedSampler();
  const app = createHttpServer({
    logger: createLogger("silent"),
    metrics: new Metrics(),
    bodyLimitBytes: 1024,
    isReady: () => true,
  });
  const serverSockets: Socket[] = [];
  let port = 0;

  beforeAll(async () => {
    registerTelemetryRoutes(app, sampler, 500);
    app.server.on("connection", (socket: Socket) => serverSockets.push(socket));
    await app.listen({ port: 0, host: "127.0.0.1" });
    const address = app.server.address();
    if (!address || typeof address === "string") throw new Error("the server has no TCP address");
    port = address.port;
  });
  afterAll(() => app.close());

  it("drops the stalled client once its buffer passes the bound, and keeps feeding the one that reads", async () => {
    const stalled = openStream(port, false);
    const reader = openStream(port, true);
    await until(() => sampler.subscribers === 2, "both streams to open");
    const stalledOnServer = serverSockets.find((socket) => socket.remotePort === stalled.socket.localPort)!;
    expect(stalledOnServer).toBeDefined();

    let mostBuffered = 0;
    let sent = 0;
    while (sent < MAX_SAMPLES && !stalledOnServer.destroyed) {
      sampler.emit(sent++);
      mostBuffered = Math.max(mostBuffered, stalledOnServer.writableLength);
      // Paced by the reading client, so only the stalled one can fall behind.
      await until(() => reader.samples() === sent, `sample ${sent} to reach the reading client`);
    }

    expect(stalledOnServer.destroyed).toBe(true);
    expect(mostBuffered).toBeGreaterThan(EVENT_STREAM_MAX_BUFFERED_BYTES);
    expect(mostBuffered).toBeLessThan(EVENT_STREAM_MAX_BUFFERED_BYTES + 2 * SAMPLE_PAD);
    expect(sampler.subscribers).toBe(1);

    // The reading client is still fed.
    sampler.emit(sent++);
    await until(() => reader.samples() === sent, `sample ${sent} to reach the reading client`);
    stalled.socket.destroy();
    reader.socket.destroy();
  });
});
