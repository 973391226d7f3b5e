import { ConnectorError } from '@junction/connectors';
import { withRetry } from './retry';

const policy = { attempts: 4, backoffMs: 20, maxBackoffMs: 1000 };
const never = () => false;

/** A send that fails with each of `failures` in turn, then succeeds; records when it was called. */
function flaky(failures: unknown[]) {
  const calls: number[] = [];
  return {
    calls,
    send: () => {
      calls.push(performance.now());
      const failure = failures.shift();
      return failure === undefined ? Promise.resolve('ok') : Promise.reject(failure);
    },
  };
}

const transient = () => new ConnectorError('UNREACHABLE', 'broker away', true);

describe('withRetry', () => {
  it('answers after one call when the first attempt succeeds', async () => {
    const s = flaky([]);
    await expect(withRetry(policy, s.send, never)).resolves.toEqual({ value: 'ok', attempts: 1 });
    expect(s.calls).toHaveLength(1);
  });

  it('retries retryable failures, waiting before each new attempt, and counts the attempts', async () => {
    const s = flaky([transient(), transient()]);
    await expect(withRetry(policy, s.send, never)).resolves.toEqual({ value: 'ok', attempts: 3 });
    expect(s.calls).toHaveLength(3);
    // Full jitter: each wait is somewhere in [0, 20 * 2^n] ms; the attempts are in order.
    expect(s.calls[2]).toBeGreaterThanOrEqual(s.calls[1]);
  });

  it('stops at the last attempt and rejects with the last error and the attempts', async () => {
    const s = flaky([transient(), transient(), transient(), new Error('fourth')]);
    await expect(withRetry(policy, s.send, never)).rejects.toMatchObject({
      message: 'fourth',
      attempts: 4,
    });
    expect(s.calls).toHaveLength(4);
  });

  it('does not retry a failure that says retrying cannot help', async () => {
    const s = flaky([new ConnectorError('REJECTED', '400 Bad Request', false)]);
    await expect(withRetry(policy, s.send, never)).rejects.toMatchObject({ attempts: 1 });
    const later = flaky([transient(), new ConnectorError('REJECTED', 'not allowed', false)]);
    await expect(withRetry(policy, later.send, never)).rejects.toMatchObject({
      message: 'not allowed',
      attempts: 2,
    });
  });

  it('gives up when told the worker is stopping', async () => {
    const s = flaky([transient(), transient()]);
    await expect(withRetry(policy, s.send, () => true)).rejects.toMatchObject({ attempts: 1 });
  });

  it('with a single attempt, never retries', async () => {
    const s = flaky([transient()]);
    await expect(withRetry({ ...policy, attempts: 1 }, s.send, never)).rejects.toMatchObject({
      attempts: 1,
    });
  });
});
