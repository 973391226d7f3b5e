/**
 * The messages of one fetched batch of one partition while their handlers run, several at once:
 * how many may start, and up to which offset every message was handled (what may be committed).
 * Handlers are started in offset order; they may finish in any order.
 */
interface Entry {
  offset: string;
  state: 'running' | 'done' | 'failed';
  error?: unknown;
}

export class PartitionProgress {
  private readonly entries: Entry[] = [];
  /** The first entry not handled yet (all before it were). */
  private head = 0;
  private running = 0;
  private roomWaiter?: () => void;
  private readonly idleWaiters: Array<() => void> = [];
  /** A handler rejected: start no more (the rest of the batch comes again after a seek). */
  failed = false;
  /** The offset of the last message of the handled prefix. */
  lastHandled?: string;

  /**
   * @param limit most handlers running at once
   * @param handledUpTo called with the last offset of the handled prefix each time it grows
   */
  constructor(
    private readonly limit: number,
    private readonly handledUpTo: (offset: string) => void,
  ) {}

  /** Resolves once another handler may start; undefined when one may start now. */
  room(): Promise<void> | undefined {
    if (this.running < this.limit) return undefined;
    return new Promise((resolve) => (this.roomWaiter = resolve));
  }

  /**
   * Tracks the handling of the message at `offset` (the next one of the batch); `settled` is
   * called once it settled, before the progress is counted.
   */
  add(offset: string, handling: Promise<unknown>, settled?: () => void): void {
    const entry: Entry = { offset, state: 'running' };
    this.entries.push(entry);
    this.running += 1;
    handling.then(
      () => {
        settled?.();
        this.finish(entry, 'done');
      },
      (err: unknown) => {
        settled?.();
        entry.error = err;
        this.finish(entry, 'failed');
      },
    );
  }

  /** Resolves once every handler started has settled. */
  settled(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Once settled: the first message that was started and not handled (its offset and error), if any. */
  firstUnhandled(): { offset: string; error: unknown } | undefined {
    const entry = this.entries[this.head];
    return entry && { offset: entry.offset, error: entry.error };
  }

  private finish(entry: Entry, state: 'done' | 'failed'): void {
    entry.state = state;
    this.running -= 1;
    if (state === 'failed') this.failed = true;
    const from = this.head;
    while (this.head < this.entries.length && this.entries[this.head].state === 'done')
      this.head += 1;
    if (this.head > from) {
      this.lastHandled = this.entries[this.head - 1].offset;
      this.handledUpTo(this.lastHandled);
    }
    const waiter = this.roomWaiter;
    this.roomWaiter = undefined;
    waiter?.();
    if (this.running === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
