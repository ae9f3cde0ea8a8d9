/**
 * The `ceiling` baseline: the fastest HTTP server Node can be on this machine, a bare node:http
 * server that answers every request with one fixed JSON body. Whatever Floodgate does per request
 * costs something on top of this; the ratio to it says how much of the machine the work takes.
 * Child entry point, started by baseline-target.ts.
 */
import { createServer } from "node:http";
import { parseBaselineConfig, serveUntilStopped } from "./baseline-config.js";

/** Shaped and sized like a product read, so a catalog-read comparison moves the same bytes. */
const FIXED_BODY = Buffer.from(
  JSON.stringify({
    id: "1234567890123456789",
    sku: "BENCH-000001",
    name: "Bench product 1",
    priceCents: 1999,
    currency: "EUR",
    version: 1,
    createdAt: "2025-01-01T00:00:00.000000Z",
    updatedAt: "2025-01-01T00:00:00.000000Z",
  }),
);

parseBaselineConfig(process.argv[2]);
const server = createServer((request, response) => {
  // Read the body to its end, as any real endpoint must, before answering.
  request.resume();
  request.once("end", () => {
    response.writeHead(200, {
      "content-type": "application/json; charset=utf-8",
      "content-length": FIXED_BODY.length,
    });
    response.end(FIXED_BODY);
  });
});
serveUntilStopped(server);
