import { createHmac } from 'node:crypto';
import { checkIngestSignature, SignatureMismatch, signIngest } from './ingest-signature';

const key = Buffer.from('shared-secret');
const body = Buffer.from('{"id":"o-1"}');
const nowMs = 1_764_000_000_000;
const t = nowMs / 1000;

describe('ingest signatures', () => {
  it('signs HMAC-SHA256 over "<t>\\n<Idempotency-Key>\\n<body>" as t=…,v1=<hex>', () => {
    const mac = createHmac('sha256', key).update(`${t}\n\n{"id":"o-1"}`).digest('hex');
    expect(signIngest(key, body, t)).toBe(`t=${t},v1=${mac}`);
    const keyed = createHmac('sha256', key).update(`${t}\norder-1\n{"id":"o-1"}`).digest('hex');
    expect(signIngest(key, body, t, 'order-1')).toBe(`t=${t},v1=${keyed}`);
  });

  it('binds the Idempotency-Key: a request signed with one does not pass with another, or none', () => {
    const signed = signIngest(key, body, t, 'order-1');
    expect(() => checkIngestSignature(signed, body, key, nowMs, 'order-1')).not.toThrow();
    expect(() => checkIngestSignature(signed, body, key, nowMs, 'order-2')).toThrow(
      SignatureMismatch,
    );
    expect(() => checkIngestSignature(signed, body, key, nowMs)).toThrow(SignatureMismatch);
  });

  it('accepts a good signature, with spaces, and among several v1 values (key rotation)', () => {
    const good = signIngest(key, body, t);
    expect(() => checkIngestSignature(good, body, key, nowMs)).not.toThrow();
    const [, v1] = good.split(',');
    const other = signIngest('old-key', body, t).split(',')[1];
    expect(() => checkIngestSignature(`t=${t}, ${other}, ${v1}`, body, key, nowMs)).not.toThrow();
  });

  it('accepts a timestamp up to 300 s either way, not beyond', () => {
    for (const skew of [-300, 300])
      expect(() =>
        checkIngestSignature(signIngest(key, body, t + skew), body, key, nowMs),
      ).not.toThrow();
    for (const skew of [-301, 301])
      expect(() => checkIngestSignature(signIngest(key, body, t + skew), body, key, nowMs)).toThrow(
        /301 s away from the gateway's clock \(tolerance 300 s\)/,
      );
  });

  it.each([
    ['absent', undefined, /needs a signed request/],
    ['empty', ' ', /needs a signed request/],
    ['repeated headers', ['a', 'b'], /needs a signed request/],
    ['without a timestamp', `v1=${'a'.repeat(64)}`, /malformed/],
    ['without a v1', `t=${t}`, /malformed/],
    ['a short v1', `t=${t},v1=abcd`, /malformed/],
    ['another scheme', `sha256=${'a'.repeat(64)}`, /malformed/],
  ])('refuses a header %s', (_what, header, message) => {
    expect(() => checkIngestSignature(header, body, key, nowMs)).toThrow(message);
  });

  it('refuses another key, another body or another timestamp as a mismatch', () => {
    const cases = [
      signIngest('other-key', body, t),
      signIngest(key, Buffer.from('{"id":"o-2"}'), t),
      signIngest(key, body, t).replace(`t=${t}`, `t=${t + 1}`),
    ];
    for (const header of cases)
      expect(() => checkIngestSignature(header, body, key, nowMs)).toThrow(SignatureMismatch);
  });

  describe('v2: the route path signed too', () => {
    it('signs HMAC-SHA256 over "v2\\n<t>\\n<path>\\n<Idempotency-Key>\\n<body>" as t=…,v2=<hex>', () => {
      const mac = createHmac('sha256', key)
        .update(`v2\n${t}\npartner/orders\norder-1\n{"id":"o-1"}`)
        .digest('hex');
      expect(signIngest(key, body, t, 'order-1', 'partner/orders')).toBe(`t=${t},v2=${mac}`);
    });

    it('takes a v2 signature made for its own path only', () => {
      const signed = signIngest(key, body, t, 'order-1', 'partner/orders');
      expect(() =>
        checkIngestSignature(signed, body, key, nowMs, 'order-1', 'partner/orders'),
      ).not.toThrow();
      // The same request sent to another route that shares the key.
      expect(() =>
        checkIngestSignature(signed, body, key, nowMs, 'order-1', 'partner/orders/cancel'),
      ).toThrow(SignatureMismatch);
      // A v1 route does not read v2 values: a v2 request is no v1 one.
      expect(() => checkIngestSignature(signed, body, key, nowMs, 'order-1')).toThrow(
        /takes v1 signatures only/,
      );
    });

    it('refuses a v1 signature on a v2 route, even one beside a v2 value for another path', () => {
      const v1 = signIngest(key, body, t, 'order-1');
      expect(() => checkIngestSignature(v1, body, key, nowMs, 'order-1', 'partner/orders')).toThrow(
        /takes v2 signatures only: X-Junction-Signature: t=<unix seconds>,v2=/,
      );
      const elsewhere = signIngest(key, body, t, 'order-1', 'partner/refunds').split(',')[1];
      expect(() =>
        checkIngestSignature(`${v1},${elsewhere}`, body, key, nowMs, 'order-1', 'partner/orders'),
      ).toThrow(SignatureMismatch);
    });

    it('a v1 value relabelled v2 does not pass: the version leads what is signed', () => {
      const v1 = signIngest(key, body, t, 'order-1').replace(',v1=', ',v2=');
      expect(() => checkIngestSignature(v1, body, key, nowMs, 'order-1', 'partner/orders')).toThrow(
        SignatureMismatch,
      );
    });
  });
});
