import type { FastifyInstance } from "fastify";
import type { TokenService } from "../platform/auth/tokens.js";

export const DEMO_SALE_SKU = "FLASH-TEE";

/**
 * Fills an empty catalog with demo products and opens a flash sale, through the public admin API
 * (the runtime never writes a service's tables). Returns false when the catalog already had products.
 */
export async function seedDemo(app: FastifyInstance, tokens: TokenService): Promise<boolean> {
  const admin = `Bearer ${tokens.issue({ userId: "demo-admin", admin: true, ttlSeconds: 600 })}`;
  const existing = await app.inject({ method: "GET", url: "/products?limit=1" });
  if (existing.json<{ items: unknown[] }>().items.length > 0) return false;
  const products = [
    { sku: DEMO_SALE_SKU, name: "Floodgate launch tee (flash sale)", priceCents: 1500, currency: "EUR" },
    ...Array.from({ length: 49 }, (_, i) => ({
      sku: `DEMO-${String(i + 1).padStart(3, "0")}`,
      name: `Demo product ${i + 1}`,
      priceCents: 500 + i * 100,
      currency: "EUR",
    })),
  ];
  for (const product of products) {
    const response = await app.inject({
      method: "POST",
      url: "/admin/products",
      headers: { authorization: admin },
      payload: product,
    });
    if (response.statusCode !== 201) throw new Error(`seeding ${product.sku} failed: ${response.body}`);
  }
  const now = Date.now();
  const sale = await app.inject({
    method: "POST",
    url: "/admin/sales",
    headers: { authorization: admin },
    payload: {
      sku: DEMO_SALE_SKU,
      stock: 100,
      perUserLimit: 2,
      startsAt: new Date(now - 60_000).toISOString(),
      endsAt: new Date(now + 7 * 24 * 3600_000).toISOString(),
    },
  });
  if (sale.statusCode !== 201) throw new Error(`opening the demo sale failed: ${sale.body}`);
  return true;
}
