interface Pending<T, R> {
  readonly item: T;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/**
 * Group commit: callers submit items one by one and each waits until the batch holding its item
 * has been flushed. While one flush runs, new items gather for the next, so under load one
 * transaction (or one fsync) serves many callers, and at low load an item waits only for itself.
 * A flush may answer each item (`R`, in the order given); a flush that throws fails its whole batch.
 */
export class GroupCommit<T, R = void> {
  private pending: Pending<T, R>[] = [];
  private flushing = false;
  private scheduled = false;

  constructor(
    // biome-ignore lint/suspicious/noConfusingVoidType: a flush without answers returns nothing.
    private readonly flush: (items: readonly T[]) => Promise<readonly R[] | void>,
    private readonly maxBatch = 1000,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything submitted so far has been flushed (or failed). */
  async drain(): Promise<void> {
    while (this.pending.length > 0 || this.flushing || this.scheduled) {
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    // One turn of the event loop lets the requests already parsed join this batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = true;
    const batch = this.pending.splice(0, this.maxBatch);
    try {
      const results = await this.flush(batch.map((entry) => entry.item));
      batch.forEach((entry, index) => {
        entry.resolve(results?.[index] as R);
      });
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    } finally {
      this.flushing = false;
      if (this.pending.length > 0) this.schedule();
    }
  }
}
