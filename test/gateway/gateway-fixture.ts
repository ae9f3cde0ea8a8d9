import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";
import { TokenService } from "../../src/platform/auth/tokens.js";
import { loadConfig } from "../../src/platform/config/load-config.js";
import type { SettingKey } from "../../src/platform/config/settings.js";
import { createLogger } from "../../src/platform/observability/logger.js";
import { type RunningGateway, runGateway } from "../../src/runtime/run-gateway.js";

export const SECRET = "gateway-test-secret-that-is-at-least-32-chars";
export const tokens = new TokenService(SECRET);
export const bearer = (userId: string, admin = false) => `Bearer ${tokens.issue({ userId, admin })}`;

export type StubBehaviour = (request: IncomingMessage, response: ServerResponse, body: string) => void;

/**
 * A stand-in for one service instance: answers /readyz as told, records every other request it
 * receives, and answers them with `behaviour` (200 with its name by default). It lets a test make
 * one instance fail, hang or drain while another works, which real services do not do on cue.
 */
export interface StubInstance {
  readonly name: string;
  readonly url: string;
  readonly received: { method: string; url: string; headers: IncomingMessage["headers"] }[];
  ready: boolean;
  behaviour: StubBehaviour;
  close(): Promise<void>;
}

export const answerOk =
  (name: string): StubBehaviour =>
  (_request, response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ from: name }));
  };

export async function startStub(name: string): Promise<StubInstance> {
  const stub: StubInstance = {
    name,
    url: "",
    received: [],
    ready: true,
    behaviour: answerOk(name),
    close: async () => {},
  };
  const server: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString();
    });
    request.on("end", () => {
      if (request.url === "/readyz") {
        response.writeHead(stub.ready ? 200 : 503).end();
        return;
      }
      stub.received.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers });
      stub.behaviour(request, response, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  Object.assign(stub, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return stub;
}

export interface TestGateway {
  readonly running: RunningGateway;
  request(
    method: string,
    path: string,
    options?: { headers?: Record<string, string>; body?: string },
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>;
  close(): Promise<void>;
}

export async function startTestGateway(
  serviceUrls: string,
  overrides: Partial<Record<SettingKey, string>> = {},
): Promise<TestGateway> {
  const config = loadConfig({
    env: {},
    overrides: {
      port: "0",
      authSecret: SECRET,
      serviceUrls,
      logLevel: "silent",
      gatewayHealthIntervalMs: "100",
      ...overrides,
    },
  });
  const running = await runGateway(config, createLogger(config.logLevel));
  const pool = new Pool(running.url, { connections: 64 });
  return {
    running,
    async request(method, path, options = {}) {
      const response = await pool.request({
        method: method as "GET",
        path,
        headers: options.headers ?? {},
        body: options.body,
      });
      return { status: response.statusCode, headers: response.headers, body: await response.body.text() };
    },
    async close() {
      await pool.close();
      await running.close();
    },
  };
}

export async function eventually(check: () => void | Promise<void>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
