import { backoffDelay, cancellableSleep, InFlight, settleWithin } from './backoff';

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap, with at most 20 % jitter below', () => {
    for (const [attempt, base] of [
      [0, 100],
      [1, 200],
      [3, 800],
      [10, 5_000],
      [1_000, 5_000],
    ]) {
      const delay = backoffDelay(attempt, 100, 5_000);
      expect(delay).toBeLessThanOrEqual(base);
      expect(delay).toBeGreaterThanOrEqual(base * 0.8);
    }
  });
});

describe('InFlight', () => {
  it('settles once everything tracked, including what was added meanwhile, has settled', async () => {
    const inFlight = new InFlight();
    const order: string[] = [];
    let release!: () => void;
    void inFlight.track(
      new Promise<void>((resolve) => {
        release = resolve;
      }).then(() => {
        order.push('first');
        void inFlight.track(Promise.resolve().then(() => order.push('second')));
      }),
    );
    void inFlight.track(Promise.reject(new Error('ignored'))).catch(() => undefined);
    const settled = inFlight.settled().then(() => order.push('settled'));
    release();
    await settled;
    expect(order).toEqual(['first', 'second', 'settled']);
    expect(inFlight.size).toBe(0);
  });
});

describe('cancellableSleep and settleWithin', () => {
  it('ends a sleep early on cancel', async () => {
    const sleep = cancellableSleep(60_000);
    sleep.cancel();
    await sleep.promise;
  });

  it('tells whether a promise settled in time', async () => {
    await expect(settleWithin(Promise.reject(new Error('x')), 1_000)).resolves.toBe(true);
    const never = new Promise(() => undefined);
    await expect(settleWithin(never, 10)).resolves.toBe(false);
  });
});
