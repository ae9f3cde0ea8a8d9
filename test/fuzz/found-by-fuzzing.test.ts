import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CATALOGUE } from "../../src/platform/errors/catalogue.js";
import { startTestServer, type TestServer } from "../support/test-server.js";

/**
 * Inputs the route fuzzer (hostile-requests.test.ts) found answered outside the error catalogue,
 * pinned: each was a 4xx in Fastify's or a route's own shape, not `{"error":{"code","message"}}`.
 */
describe("answers the fuzzer found outside the error catalogue", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it("a path parameter over the router's 100 characters: 400 invalid_request (was 414 FST_ERR_MAX_PARAM_LENGTH)", async () => {
    const answer = await server.request("GET", `/products/${"9".repeat(101)}`);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: "invalid_request" } });
  });

  it("a malformed percent-encoding in the path: 400 invalid_request (was FST_ERR_BAD_URL)", async () => {
    for (const path of ["/products/%", "/orders/%E0%A4%A"]) {
      const answer = await server.request("GET", path, { user: "u1" });
      expect(answer.status, path).toBe(400);
      expect(answer.body, path).toMatchObject({ error: { code: "invalid_request" } });
    }
  });

  it("a page size past a double (?limit=9…9, 309 digits; 1e400): 400 invalid_request (was 500, bigint 'Infinity')", async () => {
    for (const limit of ["9".repeat(309), "1e400", "-1e400"]) {
      for (const path of ["/me/orders", "/admin/orders", "/products", "/me/points"]) {
        const answer = await server.request("GET", `${path}?limit=${limit}`, { user: "a", admin: true });
        expect(answer.status, `${path}?limit=${limit.slice(0, 12)}`).toBe(400);
        expect(answer.body).toMatchObject({ error: { code: "invalid_request" } });
      }
    }
  });

  it("an email that does not exist: 404 mail_not_found, a catalogued code", async () => {
    const answer = await server.request("GET", "/admin/mail/386910443429429440", { user: "a", admin: true });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ error: { code: "mail_not_found" } });
    expect(ERROR_CATALOGUE.mail_not_found.status).toBe(404);
  });

  it("headers over the parser's limit: 431 headers_too_large (was Fastify's own JSON)", async () => {
    const answer = await raw(
      server,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ${"a".repeat(20_000)}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(bodyOf(answer)).toMatchObject({ error: { code: "headers_too_large" } });
  });

  it("bytes the parser refuses (two Content-Lengths): 400 invalid_request, connection closed", async () => {
    const answer = await raw(
      server,
      "POST /orders HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    );
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    expect(bodyOf(answer)).toMatchObject({ error: { code: "invalid_request" } });
  });
});

function bodyOf(answer: string): unknown {
  return JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4));
}

/** Sends bytes on a fresh connection and reads until the server closes it. */
function raw(server: TestServer, text: string): Promise<string> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      received += chunk;
    });
    socket.on("close", () => resolve(received));
    socket.on("error", reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error("no answer in 5 s")));
    socket.end(text);
  });
}
