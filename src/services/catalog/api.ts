/** The catalog's contract with other services (in-process or over HTTP). */
export interface Product {
  readonly id: string;
  readonly sku: string;
  readonly name: string;
  readonly priceCents: number;
  readonly currency: string;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface CatalogApi {
  productBySku(input: { sku: string }): Promise<Product | null>;
  productById(input: { id: string }): Promise<Product | null>;
}

export const CATALOG_OPERATIONS = [
  "productBySku",
  "productById",
] as const satisfies readonly (keyof CatalogApi)[];

export const SKU_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";
