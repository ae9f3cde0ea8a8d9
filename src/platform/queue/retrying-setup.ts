/**
 * A setup step (create a broker consumer, a consumer group) that runs once and is shared by every
 * caller, but is forgotten when it fails or when `reset` says the thing it made is gone, so the
 * next caller tries again: the server may be back by then.
 */
export class RetryingSetup {
  private ready: Promise<void> | undefined;

  constructor(private readonly setUp: () => Promise<void>) {}

  ensure(): Promise<void> {
    if (this.ready === undefined) {
      const ready = this.setUp();
      this.ready = ready;
      ready.catch(() => {
        if (this.ready === ready) this.ready = undefined;
      });
    }
    return this.ready;
  }

  reset(): void {
    this.ready = undefined;
  }
}
