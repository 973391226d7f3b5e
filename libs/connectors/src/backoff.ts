/** Exponential backoff with up to 20 % jitter: `initialMs * 2^attempt`, capped at `maxMs`. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.8 + Math.random() * 0.2));
}

/** A sleep that `cancel()` ends at once (resolving), so that closing never waits out a backoff. */
export function cancellableSleep(ms: number): { promise: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  let done!: () => void;
  const promise = new Promise<void>((resolve) => {
    done = resolve;
    timer = setTimeout(resolve, ms);
  });
  return {
    promise,
    cancel: () => {
      if (timer) clearTimeout(timer);
      done();
    },
  };
}

/** Tracks promises in flight so that `stop()` can wait for them to settle. */
export class InFlight {
  private readonly pending = new Set<Promise<unknown>>();

  get size(): number {
    return this.pending.size;
  }

  track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    const remove = (): void => {
      this.pending.delete(promise);
    };
    promise.then(remove, remove);
    return promise;
  }

  /** Resolves once everything tracked so far, and anything tracked meanwhile, has settled. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

/**
 * Waits for `promise` at most `ms`; true if it settled in time. For shutdown steps that must not
 * hang a stop on a wedged client (the step carries on in the background).
 */
export async function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
