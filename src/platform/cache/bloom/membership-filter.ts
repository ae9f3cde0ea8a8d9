/**
 * A set that may answer "maybe" for items it never saw (at a bounded rate) but never "no" for an
 * item it holds. Used in front of the cache so requests for ids that cannot exist are refused
 * without a cache or database lookup (cache penetration).
 */
export interface MembershipFilter {
  mightContain(item: string): Promise<boolean>;
  add(items: readonly string[]): Promise<void>;
  /** Replaces the contents with exactly `items`, sized for `expectedItems`. */
  rebuild(items: readonly string[], expectedItems: number): Promise<void>;
  /**
   * Items added since the last rebuild, and how many the current size was planned for; capacity 0
   * means never built (an unbuilt filter rules nothing out and ignores adds).
   */
  fill(): Promise<{ count: number; capacity: number }>;
}
