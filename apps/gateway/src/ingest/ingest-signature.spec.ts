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
});
