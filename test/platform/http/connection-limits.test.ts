import { connect, type Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer } from "../../../src/platform/http/server.js";
import { createLogger } from "../../../src/platform/observability/logger.js";
import { Metrics } from "../../../src/platform/observability/metrics.js";

/** What a socket received until the server closed it, and how long that took. */
function untilClosed(socket: Socket): Promise<{ text: string; ms: number }> {
  const started = Date.now();
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    text += chunk;
  });
  return new Promise((resolve) => {
    socket.on("close", () => resolve({ text, ms: Date.now() - started }));
    socket.on("error", () => {});
  });
}

/**
 * Slow clients and too many clients (issue 14, limits at the door): a client that sends its
 * headers or its body too slowly is answered 408 request_timeout and disconnected, and connections
 * past the limit are closed as they arrive. Small limits here; the defaults are in docs/configuration.md.
 */
describe("connection limits of every Floodgate listener", () => {
  let app: FastifyInstance;
  let port: number;
  const open: Socket[] = [];
  beforeAll(async () => {
    app = createHttpServer({
      logger: createLogger("silent"),
      metrics: new Metrics({}, { processMetrics: false }),
      bodyLimitBytes: 1024,
      isReady: () => true,
      connections: {
        headersTimeoutMs: 400,
        requestTimeoutMs: 800,
        keepAliveTimeoutMs: 5_000,
        maxConnections: 4,
      },
    });
    app.post("/echo", async (request) => request.body);
    await app.listen({ host: "127.0.0.1", port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of open) socket.destroy();
    await app.close();
  });

  const dial = async (): Promise<Socket> => {
    const socket = connect(port, "127.0.0.1");
    open.push(socket);
    await new Promise((resolve) => socket.once("connect", resolve));
    return socket;
  };

  it("answers a client that never finishes its headers with 408 and closes it", async () => {
    const socket = await dial();
    const closed = untilClosed(socket);
    socket.write("GET /healthz HTTP/1.1\r\nHost: floodgate\r\nX-Slow: ");
    const { text, ms } = await closed;
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(text).toContain('"code":"request_timeout"');
    expect(ms).toBeLessThan(5_000);
  });

  it("answers a client that never finishes its body with 408 and closes it", async () => {
    const socket = await dial();
    const closed = untilClosed(socket);
    socket.write(
      'POST /echo HTTP/1.1\r\nHost: floodgate\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    );
    const { text, ms } = await closed;
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeLessThan(5_000);
  });

  it("closes connections past the limit as they arrive, and serves again once some leave", async () => {
    const held = await Promise.all([dial(), dial(), dial(), dial()]);
    const extra = await dial();
    const { text } = await untilClosed(extra);
    expect(text).toBe("");
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const answer = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(answer.status).toBe(200);
  });
});
