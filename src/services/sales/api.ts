/** The sales service's contract with other services (in-process or over HTTP). */
export interface Sale {
  readonly sku: string;
  readonly stock: number;
  readonly perUserLimit: number;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly createdAt: string;
}

/** One change an admin made to a running sale. */
export interface SaleChangeRecord {
  readonly changedAt: string;
  readonly changedBy: string;
  readonly stock: { readonly before: number; readonly after: number };
  readonly endsAt: { readonly before: string; readonly after: string };
}

export interface SalesApi {
  saleBySku(input: { sku: string }): Promise<Sale | null>;
}

export const SALES_OPERATIONS = ["saleBySku"] as const satisfies readonly (keyof SalesApi)[];
