import { ConnectorError } from '@junction/connectors';
import { RetryInterrupted, withRetry } from './retry';

const policy = { attempts: 4, backoffMs: 20, maxBackoffMs: 1000 };

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
    await expect(withRetry(policy, s.send)).resolves.toEqual({ value: 'ok', attempts: 1 });
    expect(s.calls).toHaveLength(1);
  });

  it('waits the injected jitter times the backoff: the whole ceiling at 1, no time at 0', async () => {
    const asked: number[] = [];
    const s = flaky([transient(), transient()]);
    const slow = { attempts: 3, backoffMs: 40, maxBackoffMs: 60 };
    const jitter = () => {
      asked.push(performance.now());
      return 1;
    };
    await expect(withRetry(slow, s.send, undefined, jitter)).resolves.toMatchObject({
      attempts: 3,
    });
    expect(asked).toHaveLength(2); // once per retry
    // 40 ms, then 80 capped at 60 ms (timers may fire a millisecond early).
    expect(s.calls[1] - s.calls[0]).toBeGreaterThanOrEqual(39);
    expect(s.calls[2] - s.calls[1]).toBeGreaterThanOrEqual(59);
    // A fixed 1 with a long backoff: an abort is what ends the wait, never the random draw.
    const stop = new AbortController();
    const waiting = flaky([transient()]);
    const retrying = withRetry(
      { attempts: 2, backoffMs: 60_000, maxBackoffMs: 60_000 },
      waiting.send,
      stop.signal,
      () => 1,
    );
    await Promise.resolve();
    stop.abort();
    await expect(retrying).rejects.toBeInstanceOf(RetryInterrupted);
    expect(waiting.calls).toHaveLength(1);
  });

  it("waits as long as the far side's Retry-After asks, but no longer than maxBackoffMs", async () => {
    const busy = (retryAfterMs: number) =>
      new ConnectorError('REJECTED', 'answered 429', true, { retryAfterMs });
    // The jitter draws no wait at all: what is waited is what the far side asked.
    const s = flaky([busy(80), busy(60_000)]);
    const capped = { attempts: 3, backoffMs: 10, maxBackoffMs: 120 };
    await expect(withRetry(capped, s.send, undefined, () => 0)).resolves.toMatchObject({
      attempts: 3,
    });
    expect(s.calls[1] - s.calls[0]).toBeGreaterThanOrEqual(79);
    // A minute asked, the route's longest wait (120 ms) taken.
    expect(s.calls[2] - s.calls[1]).toBeGreaterThanOrEqual(119);
    expect(s.calls[2] - s.calls[1]).toBeLessThan(10_000);
    // A caller who stops waiting sooner than the far side asks: no wait, the last error.
    const late = flaky([busy(60_000)]);
    const failure = await withRetry(capped, late.send, undefined, () => 0, Date.now() + 5_000)
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(failure).toMatchObject({ code: 'REJECTED', attempts: 1 });
    expect(late.calls).toHaveLength(1);
  });

  it("does not count a try the destination held back without calling (a partner's Retry-After)", async () => {
    // The partner asked for 40 ms: every message in flight is told the time left, uncalled.
    const held = (left: number) =>
      new ConnectorError('REJECTED', 'not called: the partner asked to wait', true, {
        retryAfterMs: left,
        notSent: true,
      });
    // Two attempts in all, a route that never waits (maxBackoffMs 0): the held tries are not
    // attempts, so the message is still called (twice) and delivered, not dead-lettered uncalled.
    const s = flaky([held(40), held(20), held(5), transient()]);
    const eager = { attempts: 2, backoffMs: 0, maxBackoffMs: 0 };
    await expect(withRetry(eager, s.send, undefined, () => 0)).resolves.toEqual({
      value: 'ok',
      attempts: 2,
    });
    expect(s.calls).toHaveLength(5);
    // Each held try waited the time it was told was left (timers may fire a millisecond early).
    expect(s.calls[1] - s.calls[0]).toBeGreaterThanOrEqual(39);
    expect(s.calls[2] - s.calls[1]).toBeGreaterThanOrEqual(19);
    // A sync caller's deadline before the hold ends still gives up at once.
    const late = flaky([held(60_000)]);
    await expect(
      withRetry(eager, late.send, undefined, () => 0, Date.now() + 5_000),
    ).rejects.toMatchObject({ notSent: true });
    expect(late.calls).toHaveLength(1);
  });

  it('retries retryable failures, waiting before each new attempt, and counts the attempts', async () => {
    const s = flaky([transient(), transient()]);
    await expect(withRetry(policy, s.send)).resolves.toEqual({ value: 'ok', attempts: 3 });
    expect(s.calls).toHaveLength(3);
    // Full jitter: each wait is somewhere in [0, 20 * 2^n] ms; the attempts are in order.
    expect(s.calls[2]).toBeGreaterThanOrEqual(s.calls[1]);
  });

  it('stops at the last attempt and rejects with the last error and the attempts', async () => {
    const s = flaky([transient(), transient(), transient(), new Error('fourth')]);
    await expect(withRetry(policy, s.send)).rejects.toMatchObject({
      message: 'fourth',
      attempts: 4,
    });
    expect(s.calls).toHaveLength(4);
  });

  it('does not retry a failure that says retrying cannot help', async () => {
    const s = flaky([new ConnectorError('REJECTED', '400 Bad Request', false)]);
    await expect(withRetry(policy, s.send)).rejects.toMatchObject({ attempts: 1 });
    const later = flaky([transient(), new ConnectorError('REJECTED', 'not allowed', false)]);
    await expect(withRetry(policy, later.send)).rejects.toMatchObject({
      message: 'not allowed',
      attempts: 2,
    });
  });

  describe('interrupted by its signal (the worker is stopping)', () => {
    const slow = { attempts: 5, backoffMs: 60_000, maxBackoffMs: 60_000 };

    it('ends a wait between attempts at once, sends no more, and says it was interrupted', async () => {
      const s = flaky([transient(), transient()]);
      const stop = new AbortController();
      // A fixed 1: the second attempt would come 60 s later, long after this test.
      const retrying = withRetry(slow, s.send, stop.signal, () => 1);
      await new Promise((resolve) => setTimeout(resolve, 20));
      stop.abort();
      // The wait left was most of a minute, far past this test's time-out: that the promise
      // settles at all says the abort ended it (no clock to read, so no load can fail it).
      const err = await retrying.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RetryInterrupted);
      expect(err).toMatchObject({ attempts: 1, lastError: expect.any(ConnectorError) });
      expect(s.calls).toHaveLength(1);
    });

    it('already aborted: a retryable first failure is interrupted, not retried', async () => {
      const s = flaky([transient()]);
      await expect(withRetry(slow, s.send, AbortSignal.abort())).rejects.toMatchObject({
        constructor: RetryInterrupted,
        attempts: 1,
      });
      expect(s.calls).toHaveLength(1);
    });

    it('a failure that retrying cannot help is still that failure (it is dead-letter material)', async () => {
      const s = flaky([new ConnectorError('REJECTED', '400 Bad Request', false)]);
      const err = await withRetry(slow, s.send, AbortSignal.abort()).catch((e: unknown) => e);
      expect(err).not.toBeInstanceOf(RetryInterrupted);
      expect(err).toMatchObject({ message: '400 Bad Request', attempts: 1 });
    });

    it('lets an attempt under way finish: its success counts, its failure is an interruption', async () => {
      for (const outcome of ['ok', 'fails'] as const) {
        const stop = new AbortController();
        let calls = 0;
        const send = async () => {
          calls += 1;
          if (calls === 1) throw transient();
          stop.abort(); // interrupted while this second attempt is in flight
          await new Promise((resolve) => setTimeout(resolve, 20));
          if (outcome === 'fails') throw transient();
          return 'late ok';
        };
        const retrying = withRetry({ ...slow, backoffMs: 1, maxBackoffMs: 1 }, send, stop.signal);
        if (outcome === 'ok')
          await expect(retrying).resolves.toEqual({ value: 'late ok', attempts: 2 });
        else await expect(retrying).rejects.toBeInstanceOf(RetryInterrupted);
        expect(calls).toBe(2);
      }
    });

    it('the last attempt failing is a failure even when stopping', async () => {
      const stop = new AbortController();
      let calls = 0;
      const send = async () => {
        calls += 1;
        if (calls === 2) stop.abort();
        throw transient();
      };
      await expect(
        withRetry({ attempts: 2, backoffMs: 1, maxBackoffMs: 1 }, send, stop.signal),
      ).rejects.toMatchObject({ constructor: ConnectorError, attempts: 2 });
    });
  });

  it('with a single attempt, never retries', async () => {
    const s = flaky([transient()]);
    await expect(withRetry({ ...policy, attempts: 1 }, s.send)).rejects.toMatchObject({
      attempts: 1,
    });
  });
});
