/** The sales service's contract with other services (in-process or over HTTP). */
export interface Sale {
  readonly sku: string;
  readonly stock: number;
  readonly perUserLimit: number;
  readonly startsAt: string;
  readonly endsAt: string;
  readonly createdAt: string;
}

export interface SalesApi {
  saleBySku(input: { sku: string }): Promise<Sale | null>;
}

export const SALES_OPERATIONS = ["saleBySku"] as const satisfies readonly (keyof SalesApi)[];
