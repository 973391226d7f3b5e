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
 */
export async function withRetry<T>(
  policy: RetryPolicy,
  send: () => Promise<T>,
  stopping: () => boolean,
): Promise<{ value: T; attempts: number }> {
  let attempts = 0;
  try {
    const value = await backOff(
      () => {
        attempts += 1;
        return send();
      },
      {
        numOfAttempts: policy.attempts,
        startingDelay: Math.max(1, policy.backoffMs),
        maxDelay: Math.max(1, policy.maxBackoffMs),
        timeMultiple: 2,
        jitter: 'full',
        delayFirstAttempt: false,
        retry: (err: unknown): boolean =>
          !stopping() && !(err instanceof ConnectorError && !err.retryable),
      },
    );
    return { value, attempts };
  } catch (err) {
    throw Object.assign(err instanceof Error ? err : new Error(String(err)), { attempts });
  }
}
