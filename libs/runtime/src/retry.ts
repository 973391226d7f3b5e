import { backOff } from 'exponential-backoff';
import { ConnectorError } from '@junction/connectors';
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
 * Runs `send` until it succeeds, a failure says retrying cannot help, the attempts are spent or
 * `stopping()` turns true. Exponential backoff with full jitter (exponential-backoff).
 * Resolves with the result and the attempts used; rejects with the last error and the attempts.
 *
 * The first attempt is a plain call: nearly every send succeeds at once, and the backoff
 * machinery (options, delay objects, promise steps) cost more per message than the send itself.
 * Only a retryable failure enters it, for the remaining attempts, waiting before each.
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  send: () => Promise<T>,
  stopping: () => boolean,
): Promise<{ value: T; attempts: number }> {
  const retryable = (err: unknown): boolean =>
    !stopping() && !(err instanceof ConnectorError && !err.retryable);
  let attempts = 1;
  try {
    return { value: await send(), attempts };
  } catch (err) {
    if (policy.attempts <= 1 || !retryable(err)) throw withAttempts(err, attempts);
  }
  try {
    const value = await backOff(
      () => {
        attempts += 1;
        return send();
      },
      {
        numOfAttempts: policy.attempts - 1,
        startingDelay: Math.max(1, policy.backoffMs),
        maxDelay: Math.max(1, policy.maxBackoffMs),
        timeMultiple: 2,
        jitter: 'full',
        // Before the second attempt too: the first one, above, just failed.
        delayFirstAttempt: true,
        retry: retryable,
      },
    );
    return { value, attempts };
  } catch (err) {
    throw withAttempts(err, attempts);
  }
}

function withAttempts(err: unknown, attempts: number): Error & { attempts: number } {
  return Object.assign(err instanceof Error ? err : new Error(String(err)), { attempts });
}
