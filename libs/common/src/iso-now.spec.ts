import { isoNow } from './iso-now';

describe('isoNow', () => {
  afterEach(() => jest.useRealTimers());

  it('is the time as toISOString writes it, following the clock millisecond by millisecond', () => {
    jest.useFakeTimers({ now: Date.UTC(2026, 11, 31, 23, 59, 59, 998) });
    expect(isoNow()).toBe('2026-12-31T23:59:59.998Z');
    expect(isoNow()).toBe('2026-12-31T23:59:59.998Z');
    jest.advanceTimersByTime(1);
    expect(isoNow()).toBe('2026-12-31T23:59:59.999Z');
    jest.advanceTimersByTime(1);
    expect(isoNow()).toBe('2027-01-01T00:00:00.000Z');
    // A clock set back (NTP, a test) is followed too.
    jest.setSystemTime(Date.UTC(2020, 1, 29, 12, 0, 0, 5));
    expect(isoNow()).toBe('2020-02-29T12:00:00.005Z');
  });

  it('agrees with new Date().toISOString() on the real clock', () => {
    for (let i = 0; i < 1000; i++) {
      const before = Date.now();
      const iso = isoNow();
      const after = Date.now();
      expect(Date.parse(iso)).toBeGreaterThanOrEqual(before);
      expect(Date.parse(iso)).toBeLessThanOrEqual(after);
      expect(new Date(Date.parse(iso)).toISOString()).toBe(iso);
    }
  });
});
