/** Callbacks waiting for the next change of an endpoint set, each called once. */
export class ChangeWaiters {
  private readonly waiters = new Set<() => void>();

  /** Calls `wake` once, at the next change. Returns a function that cancels the wait. */
  add(wake: () => void): () => void {
    this.waiters.add(wake);
    return () => this.waiters.delete(wake);
  }

  /** Calls every waiter, once; those that wait again wait for the change after this one. */
  wake(): void {
    if (this.waiters.size === 0) return;
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }
}

/** Promises of `client.ready()`, settled all together. */
export class SettledWaiters {
  private readonly waiters = new Set<{ resolve(): void; reject(error: Error): void }>();

  get waiting(): boolean {
    return this.waiters.size > 0;
  }

  wait(): Promise<void> {
    return new Promise((resolve, reject) => this.waiters.add({ resolve, reject }));
  }

  resolveAll(): void {
    for (const waiter of this.take()) waiter.resolve();
  }

  rejectAll(error: Error): void {
    for (const waiter of this.take()) waiter.reject(error);
  }

  private take(): { resolve(): void; reject(error: Error): void }[] {
    const waiters = [...this.waiters];
    this.waiters.clear();
    return waiters;
  }
}
