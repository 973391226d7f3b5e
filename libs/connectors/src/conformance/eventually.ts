import {
  ConnectorError,
  type DeliveryReceipt,
  type Destination,
  type OutboundMessage,
} from '../connector';

/**
 * Polls `condition` until it holds; fails with `what` after `timeoutMs`. Tests wait for a state,
 * never for a fixed time.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await condition()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Sends like the runtime does: retries retryable failures (a broker away) until `timeoutMs`. */
export async function sendWithRetry(
  destination: Destination,
  message: OutboundMessage,
  timeoutMs = 60_000,
): Promise<DeliveryReceipt> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await destination.send(message);
    } catch (err) {
      if (!(err instanceof ConnectorError) || !err.retryable || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export interface Deferred<T = void> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
