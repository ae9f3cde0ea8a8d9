/**
 * A set that may answer "maybe" for items it never saw (at a bounded rate) but never "no" for an
 * item it holds. Used in front of the cache so requests for ids that cannot exist are refused
 * without a cache or database lookup (cache penetration).
 *
 * The filter keeps a *stamp* with its contents — a number its owner chooses (the catalog: "every
 * id minted before this time is in here") — and both are written together, so whatever makes the
 * contents go back in time (a restore from a snapshot, a failover to a replica that lagged) takes
 * the stamp back with them. A lookup returns the stamp of the contents it answered from.
 */
export interface MembershipFilter {
  mightContain(item: string): Promise<boolean>;
  /** `maybe` as mightContain, with the stamp of the contents that answered. */
  lookup(item: string): Promise<FilterLookup>;
  /**
   * Adds items. With a mark, also moves the stamp up to `mark.stamp`, but only while the filter is
   * still the build `mark.generation` names (the stamp was computed against that build's stamp).
   */
  add(
    items: readonly string[],
    mark?: { readonly stamp: number; readonly generation: string },
  ): Promise<void>;
  /** Replaces the contents with exactly `items`, sized for `expectedItems`, as a new generation. */
  rebuild(
    items: readonly string[],
    expectedItems: number,
    mark?: { readonly stamp: number; readonly builtAt: number },
  ): Promise<void>;
  state(): Promise<FilterState>;
}

export interface FilterLookup {
  readonly maybe: boolean;
  /** 0 when the filter was never built (nothing is covered). */
  readonly stamp: number;
}

export interface FilterState {
  /** Items added since the last rebuild (re-adds counted again). */
  readonly count: number;
  /** How many items the current size was planned for; 0 means never built (rules nothing out). */
  readonly capacity: number;
  readonly stamp: number;
  /** Changes with every rebuild. */
  readonly generation: string;
  /** When the current contents were built, as the rebuilder gave it; 0 when never built. */
  readonly builtAt: number;
  /** False when part of the filter is gone (its bitmap evicted): until rebuilt it rules nothing out. */
  readonly intact: boolean;
}
