/** What the stop on a signal needs from the process around it (injected by tests). */
export interface ShutdownDeps {
  /** The graceful stop: intake stopped, messages in flight finished, audit flushed. */
  close(): Promise<void>;
  /** What the stop still waits for, one line each (routes with messages in flight). */
  pending(): string[];
  /** Longest the graceful stop may take before the process exits anyway. */
  timeoutMs: number;
  log(message: string): void;
  error(message: string): void;
  exit(code: number): void;
  signals?: { on(signal: NodeJS.Signals, listener: () => void): unknown };
  setTimer?: (callback: () => void, ms: number) => unknown;
}

/**
 * SIGTERM and SIGINT stop the gateway gracefully, within `timeoutMs`. A stop that does not finish
 * in time (a destination that never answers, a broker that blocks publishing, a database gone)
 * ends the process anyway, with exit code 1 and a line naming what it still waited for: what
 * was not finished is not lost, since a broker message not acknowledged goes back to its queue
 * and a Kafka offset not committed is read again. A second signal ends it at once, the same way.
 * An orchestrator's own grace period (Kubernetes: 30 s) should be longer than `timeoutMs`, so
 * that the gateway says why before it is killed.
 */
export function stopOnSignals(deps: ShutdownDeps): void {
  const signals = deps.signals ?? process;
  // Not unref'd: a stop stuck on a promise with nothing else pending must still say so and exit 1.
  const setTimer = deps.setTimer ?? ((callback, ms) => setTimeout(callback, ms));
  let stopping = false;
  let exited = false;
  const exit = (code: number) => {
    if (exited) return;
    exited = true;
    deps.exit(code);
  };
  const giveUp = (why: string) => {
    const pending = safely(deps.pending);
    deps.error(
      `${why}; exiting without finishing${pending.length ? `: ${pending.join('; ')}` : ''} (unacknowledged broker messages go back to their queues)`,
    );
    exit(1);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    signals.on(signal, () => {
      if (stopping) return giveUp(`${signal} while stopping`);
      stopping = true;
      deps.log(`${signal}: shutting down (at most ${deps.timeoutMs} ms)`);
      setTimer(() => giveUp(`the stop did not finish within ${deps.timeoutMs} ms`), deps.timeoutMs);
      deps
        .close()
        .then(() => exit(0))
        .catch((err: unknown) => {
          deps.error(`shutdown failed: ${(err as Error).message}`);
          exit(1);
        });
    });
  }
}

function safely(pending: () => string[]): string[] {
  try {
    return pending();
  } catch {
    return [];
  }
}
