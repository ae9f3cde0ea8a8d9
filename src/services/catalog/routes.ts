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
      const product = await store.insert(ids.next(0), request.body);
      if (!product)
        throw new AppError("sku_taken", `A product with SKU "${request.body.sku}" already exists.`);
      await reader.invalidate(product);
      return reply.status(201).send(product);
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
