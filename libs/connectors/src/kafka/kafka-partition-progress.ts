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
   * Tracks the handling of the message at `offset` (the next one of the batch); `settled.issued()`
   * is called once it settled, before the progress is counted.
   */
  add(offset: string, handling: Promise<unknown>, settled?: { issued(): void }): void {
    const entry: Entry = { offset, state: 'running' };
    this.entries.push(entry);
    this.running += 1;
    handling.then(
      () => {
        settled?.issued();
        this.finish(entry, 'done');
      },
      (err: unknown) => {
        settled?.issued();
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

/**
 * The send turns of one fetched batch's messages: a message may send once every earlier one
 * issued its sends (or settled). Most find their turn already come: only a message that must
 * wait gets a promise.
 */
export class Turns {
  /** The first message that has not issued (every one before it has). */
  private next = 0;
  private readonly issuedAt: Uint8Array;
  private readonly waiting = new Map<number, () => void>();

  constructor(size: number) {
    this.issuedAt = new Uint8Array(size);
  }

  /** Undefined when message `i` may send now; else resolves once it may. */
  waitFor(i: number): Promise<void> | undefined {
    if (i <= this.next) return undefined;
    return new Promise((resolve) => this.waiting.set(i, resolve));
  }

  issue(i: number): void {
    if (this.issuedAt[i] === 1) return;
    this.issuedAt[i] = 1;
    while (this.next < this.issuedAt.length && this.issuedAt[this.next] === 1) {
      this.next += 1;
      const waiter = this.waiting.get(this.next);
      if (waiter) {
        this.waiting.delete(this.next);
        waiter();
      }
    }
  }
}

/** Message `index`'s turn (`InboundMessage.order`); called once its handler settles as well. */
export class Turn {
  constructor(
    private readonly turns: Turns,
    private readonly index: number,
  ) {}

  previous(): Promise<void> | undefined {
    return this.turns.waitFor(this.index);
  }

  issued(): void {
    this.turns.issue(this.index);
  }
}
