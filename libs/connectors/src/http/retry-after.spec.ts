import { retryAfter } from './http.destination';

describe('retryAfter (an HTTP Retry-After header)', () => {
  const now = Date.parse('1994-11-06T08:49:00Z');

  it.each([
    ['delay-seconds', '120', 120_000],
    ['zero', '0', 0],
    ['IMF-fixdate', 'Sun, 06 Nov 1994 08:49:37 GMT', 37_000],
    ['the obsolete RFC 850 form', 'Sunday, 06-Nov-94 08:49:37 GMT', 37_000],
    ['the obsolete asctime form (GMT, though it does not say)', 'Sun Nov  6 08:49:37 1994', 37_000],
    ['a date already past', 'Sun, 06 Nov 1994 08:48:00 GMT', 0],
    ['a delay over a day, held to a day', '999999999', 24 * 60 * 60 * 1000],
  ])('reads %s', (_what, header, ms) => {
    expect(retryAfter(header, now)).toBe(ms);
  });

  it.each([undefined, '', 'soon', '-5', '1.5', 'Sun, 06 Nov 1994'])(
    'takes %p for no answer',
    (header) => {
      expect(retryAfter(header, now)).toBeUndefined();
    },
  );
});
