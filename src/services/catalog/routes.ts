import type { FastifyInstance } from "fastify";
import type { TokenService } from "../../platform/auth/tokens.js";
import { AppError } from "../../platform/errors/catalogue.js";
import { decodeCursor, encodeCursor, PAGE_QUERY_SCHEMA } from "../../platform/http/cursor.js";
import { adminOf } from "../../platform/http/principal.js";
import type { SnowflakeGenerator } from "../../platform/ids/snowflake.js";
import { parseSnowflake } from "../../platform/ids/snowflake.js";
import { SKU_PATTERN } from "./api.js";
import type { ProductReader } from "./product-reader.js";
import type { ProductFields, ProductStore } from "./product-store.js";

const PRODUCT_FIELDS = {
  name: { type: "string", minLength: 1, maxLength: 200 },
  priceCents: { type: "integer", minimum: 0, maximum: 1_000_000_000 },
  currency: { type: "string", pattern: "^[A-Z]{3}$" },
} as const;

const CREATE_BODY = {
  type: "object",
  additionalProperties: false,
  required: ["sku", "name", "priceCents", "currency"],
  properties: { sku: { type: "string", pattern: SKU_PATTERN }, ...PRODUCT_FIELDS },
} as const;

const UPDATE_BODY = {
  type: "object",
  additionalProperties: false,
  required: ["name", "priceCents", "currency"],
  // The SKU may be repeated (a full representation) but not changed: sales and orders refer to it.
  properties: { sku: { type: "string", pattern: SKU_PATTERN }, ...PRODUCT_FIELDS },
} as const;

const ID_PARAMS = {
  type: "object",
  required: ["id"],
  properties: { id: { type: "string", maxLength: 20 } },
} as const;

export interface CatalogRouteDeps {
  readonly store: ProductStore;
  readonly reader: ProductReader;
  readonly ids: SnowflakeGenerator;
  readonly tokens: TokenService;
}

const WARM_BODY = {
  type: "object",
  additionalProperties: false,
  properties: { top: { type: "integer", minimum: 1, maximum: 1_000_000, default: 1000 } },
} as const;

export function registerCatalogRoutes(app: FastifyInstance, deps: CatalogRouteDeps): void {
  const { store, reader, ids, tokens } = deps;

  app.get<{ Querystring: { limit: number; cursor?: string } }>(
    "/products",
    { schema: { querystring: PAGE_QUERY_SCHEMA } },
    async (request) => {
      const { limit, cursor } = request.query;
      const items = await store.page(limit, decodeCursor(cursor));
      const last = items.at(-1);
      return { items, nextCursor: items.length === limit && last ? encodeCursor(last.id) : null };
    },
  );

  app.get<{ Params: { id: string } }>(
    "/products/:id",
    { schema: { params: ID_PARAMS } },
    async (request, reply) => {
      const { id } = request.params;
      const json = parseSnowflake(id) ? await reader.jsonById(id) : undefined;
      if (json === undefined) throw new AppError("product_not_found");
      return reply.type("application/json; charset=utf-8").send(json);
    },
  );

  app.post<{ Body: ProductFields }>(
    "/admin/products",
    { schema: { body: CREATE_BODY } },
    async (request, reply) => {
      adminOf(request, tokens);
      const id = ids.next(0);
      // Into the id filter before the row exists: the filter may say "maybe" for an id that
      // never commits, but must never say "no" for one that does.
      await reader.admitNew(id);
      const product = await store.insert(id, request.body);
      if (!product)
        throw new AppError("sku_taken", `A product with SKU "${request.body.sku}" already exists.`);
      await reader.invalidate(product);
      return reply.status(201).send(product);
    },
  );

  // Streams progress as one JSON line per chunk, so `floodgate cache warm` can show it.
  app.post<{ Body: { top: number } }>(
    "/admin/cache/warm",
    { schema: { body: WARM_BODY } },
    async (request, reply) => {
      adminOf(request, tokens);
      // Headers go out with the first line: until then a failure is still an ordinary error reply.
      const start = () => {
        if (!reply.raw.headersSent) reply.raw.writeHead(200, { "content-type": "application/x-ndjson" });
      };
      const total = await reader.warmTop(request.body.top, (warmed, of) => {
        start();
        reply.raw.write(`${JSON.stringify({ warmed, total: of })}\n`);
      });
      start();
      reply.raw.end(`${JSON.stringify({ done: true, total })}\n`);
      return reply;
    },
  );

  app.put<{ Params: { id: string }; Body: ProductFields }>(
    "/admin/products/:id",
    { schema: { params: ID_PARAMS, body: UPDATE_BODY } },
    async (request) => {
      adminOf(request, tokens);
      const { id } = request.params;
      const current = parseSnowflake(id) ? await store.byId(id) : undefined;
      if (!current) throw new AppError("product_not_found");
      if (request.body.sku !== undefined && request.body.sku !== current.sku) {
        throw new AppError("sku_immutable");
      }
      const updated = await store.update(id, request.body);
      if (!updated) throw new AppError("product_not_found");
      await reader.invalidate(updated);
      return updated;
    },
  );
}
