/** What an event bus does with a handler that failed: it is logged and counted, never rethrown. */
export interface EventBusLog {
  error(message: string): void;
}

type Handler<P> = (payload: P) => Promise<void> | void;

/**
 * A small typed, in-process event bus: `E` maps each event name to its payload. Handlers are
 * registered explicitly (at module init or bootstrap) and run in registration order, one after
 * the other; `emit` resolves once every handler has finished, so an emitter that awaits it knows
 * its change was applied. A handler that throws is logged and counted and the next one still
 * runs: a listener's failure never fails the emitter's request.
 */
export class EventBus<E extends object> {
  private readonly handlers = new Map<keyof E, Array<{ label: string; handle: Handler<never> }>>();
  private failed = 0;

  constructor(private readonly log: EventBusLog = { error: () => undefined }) {}

  /** Registers a handler; the function returned unregisters it. */
  on<K extends keyof E>(name: K, handle: Handler<E[K]>, label = 'handler'): () => void {
    const entry = { label, handle: handle as Handler<never> };
    this.handlers.set(name, [...(this.handlers.get(name) ?? []), entry]);
    return () =>
      this.handlers.set(
        name,
        (this.handlers.get(name) ?? []).filter((h) => h !== entry),
      );
  }

  /** Runs the event's handlers in registration order and resolves when all are done. */
  async emit<K extends keyof E>(name: K, payload: E[K]): Promise<void> {
    for (const { label, handle } of [...(this.handlers.get(name) ?? [])]) {
      try {
        await (handle as Handler<E[K]>)(payload);
      } catch (err) {
        this.failed += 1;
        this.log.error(
          `${label} failed on ${String(name)}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
  }

  /** How many handler runs failed since start (for metrics and tests). */
  get failures(): number {
    return this.failed;
  }
}
