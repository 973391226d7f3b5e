import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectorError, errorText } from '@junction/connectors';
import type { RetrySpec } from '@junction/pipeline';

export interface RetryPolicy {
  attempts: number;
  backoffMs: number;
  maxBackoffMs: number;
}

export function retryPolicy(spec: RetrySpec | undefined): RetryPolicy {
  return {
    attempts: spec?.attempts ?? 5,
    backoffMs: spec?.backoffMs ?? 200,
    maxBackoffMs: spec?.maxBackoffMs ?? 30_000,
  };
}

/**
 * Retrying was cut short by the caller's signal (the worker is stopping) while attempts were
 * left. The message did not fail: it must go back to its source, not to the dead letters.
 */
export class RetryInterrupted extends Error {
  constructor(
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super(`retrying stopped after ${attempts} attempt(s): ${errorText(lastError)}`);
  }
}

/** A source of numbers in [0, 1): Math.random, or a fixed one where a test must know the wait. */
export type Jitter = () => number;

/**
 * Runs `send` until it succeeds, a failure says retrying cannot help, or the attempts are spent.
 * Before each retry it waits `jitter()` times `backoffMs * 2^(retry-1)`, capped at
 * `maxBackoffMs` ("full jitter"), or as long as the failure's `retryAfterMs` asks, up to
 * `maxBackoffMs`. Resolves with the result and the attempts used; rejects with
 * the last error and the attempts.
 *
 * When `signal` aborts, a wait between attempts ends at once (its timer is cleared) and no new
 * attempt starts: the promise rejects with RetryInterrupted. An attempt already under way is let
 * finish: its success counts (cutting it off could only turn a delivery into a duplicate).
 *
 * Written here rather than taken from a library: exponential-backoff and cockatiel (both read
 * for this) wait out their delay after an abort, which would hold a stopping worker, or leave
 * a timer behind, for up to `maxBackoffMs`.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  send: () => Promise<T>,
  signal?: AbortSignal,
  jitter: Jitter = Math.random,
  /**
   * When a caller stops waiting (epoch ms; a sync request's reply time): a far side that asks to
   * be tried again only after it is not waited for (the message is dead-lettered, replayable).
   */
  deadline?: number,
): Promise<{ value: T; attempts: number }> {
  for (let attempts = 1; ; attempts += 1) {
    try {
      return { value: await send(), attempts };
    } catch (err) {
      const retryable = !(err instanceof ConnectorError && !err.retryable);
      // A destination that held the message back (a partner's Retry-After holds it whole) called
      // nobody: not an attempt, and its wait is the time left (the hold ends; it never calls before).
      const notSent = err instanceof ConnectorError && err.notSent === true && retryable;
      if (!retryable || (!notSent && attempts >= policy.attempts))
        throw withAttempts(err, attempts);
      if (signal?.aborted) throw new RetryInterrupted(attempts, err);
      const ceiling = Math.min(
        policy.maxBackoffMs,
        policy.backoffMs * 2 ** Math.min(attempts - 1, 30),
      );
      // A far side that said when to come back (an HTTP Retry-After) is not asked sooner, nor
      // later than the route's longest wait (a held try waits the hold out: see notSent).
      const asked = err instanceof ConnectorError ? (err.retryAfterMs ?? 0) : 0;
      if (asked > 0 && deadline !== undefined && Date.now() + asked >= deadline)
        throw withAttempts(err, attempts);
      const wait = notSent
        ? Math.max(1, asked)
        : Math.max(
            Math.round(jitter() * Math.max(1, ceiling)),
            Math.min(asked, policy.maxBackoffMs),
          );
      if (notSent) attempts -= 1;
      try {
        await sleep(wait, undefined, { signal });
      } catch {
        throw new RetryInterrupted(attempts, err);
      }
    }
  }
}
function withAttempts(err: unknown, attempts: number): Error & { attempts: number } {
  return Object.assign(err instanceof Error ? err : new Error(String(err)), { attempts });
}
