/** The loyalty service's contract with other services (in-process or over HTTP). */
// biome-ignore lint/complexity/noBannedTypes: no operations yet; they are added as the service grows.
export type LoyaltyApi = {};

export const LOYALTY_OPERATIONS = [] as const satisfies readonly (keyof LoyaltyApi)[];
