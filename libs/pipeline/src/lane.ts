import { performance } from 'node:perf_hooks';

/**
 * Runs CPU-bound asynchronous work one piece at a time, in arrival order.
 *
 * Work that never waits on I/O gains nothing from running interleaved with more of its kind: the
 * pieces only share one thread, so each takes longer and every deadline is eaten by the others.
 * In turns, each piece finishes as early as it can, so its follow-up I/O (a publish) starts while
 * the next piece runs: messages flow through one by one instead of in waves.
 *
 * With `yieldAfterMs`, a lane that has been busy that long lets the event loop run (socket reads:
 * confirms, new deliveries) before the next piece; promise chains alone would never yield.
 */
export class Lane {
  private busy = false;
  private readonly waiting: Array<() => void> = [];
  private busySince = 0;

  constructor(private readonly yieldAfterMs?: number) {}

  run<T>(work: () => Promise<T>): Promise<T> {
    if (!this.busy) {
      if (this.yieldAfterMs !== undefined) this.busySince = performance.now();
      return this.start(work);
    }
    return new Promise<T>((resolve, reject) =>
      this.waiting.push(() => this.start(work).then(resolve, reject)),
    );
  }

  private start<T>(work: () => Promise<T>): Promise<T> {
    this.busy = true;
    let running: Promise<T>;
    try {
      running = work();
    } catch (err) {
      this.release();
      return Promise.reject(err);
    }
    return running.finally(() => this.release());
  }

  private release(): void {
    const next = this.waiting.shift();
    if (!next) {
      this.busy = false;
      return;
    }
    if (
      this.yieldAfterMs !== undefined &&
      performance.now() - this.busySince >= this.yieldAfterMs
    ) {
      setImmediate(() => {
        this.busySince = performance.now();
        next();
      });
      return;
    }
    next();
  }
}
