/**
 * Points for an amount: FLOODGATE_LOYALTY_POINTS_PER_CURRENCY_UNIT per whole unit of currency,
 * a unit being 100 cents; the cents below a whole unit earn nothing (19.99 EUR at 1 point per unit
 * is 19 points). Integer arithmetic only.
 */
export function pointsFor(amountCents: number, pointsPerCurrencyUnit: number): number {
  if (!Number.isSafeInteger(amountCents) || amountCents <= 0) return 0;
  return Math.floor(amountCents / 100) * pointsPerCurrencyUnit;
}
