import { decodeBody } from './decode';
import { changedNumber, decimal, numberChange } from './exact-numbers';
import { prng } from './pan/pan-corpus';
import { PipelineError } from './pipeline.error';

/**
 * The oracle, independent of the code under test: a decimal string as an exact rational
 * (sign × integer × 10^exponent, in BigInt), so two spellings compare by value.
 */
function exact(text: string): { n: bigint; e: number } {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) throw new Error(`not a number: ${text}`);
  const fraction = m[3] ?? '';
  const n = BigInt(`${m[1]}${m[2]}${fraction}`);
  return { n, e: Number(m[4] ?? 0) - fraction.length };
}

function sameValue(a: string, b: string): boolean {
  const x = exact(a);
  const y = exact(b);
  const low = Math.min(x.e, y.e);
  return x.n * 10n ** BigInt(x.e - low) === y.n * 10n ** BigInt(y.e - low);
}

/**
 * What happens to a number token going through JSON.parse and JSON.stringify: kept when it comes
 * out with its value, or when it was a double written with 17 digits (the same double goes on).
 */
function survives(token: string): boolean {
  const value = Number(token);
  if (!Number.isFinite(value)) return false;
  if (sameValue(token, String(value))) return true;
  const digits = token.split(/[eE]/)[0].replace(/\D/g, '').replace(/^0+/, '').replace(/0+$/, '');
  return digits.length <= 17 && sameValue(token, value.toPrecision(17));
}

describe('changedNumber', () => {
  it.each([
    ['{"id":"ORD-1","total":199.9,"qty":2}'],
    ['{"pan":4111111111111111}'], // 16 digits, under 2^53
    ['{"max":9007199254740992,"min":-9007199254740992}'],
    ['[1.50, 1.5e0, 150e-2, 0.1, 0.30000000000000004, 1e308, 1e-300, 5e-324, -0, 0.0]'],
    ['{"fifteen":123456789012345,"fraction":0.12345678901234}'],
    ['{"big":100000000000000000000}'], // 1e20 exactly
    ['[0.10000000000000001, 0.29999999999999999, 1.0000000000000002]'], // doubles as %.17g
    ['{"s":"12345678901234567890","t":"x:12345678901234567890"}'], // strings are text
    ['{"s":"\\",12345678901234567890","k":1}'], // an escaped quote does not end the string
    ['{"s":"1e400"}'],
  ])('keeps %s', (text) => {
    expect(changedNumber(text)).toBeUndefined();
    expect(decodeBody(text)).toEqual(JSON.parse(text));
  });

  it.each([
    ['{"id":12345678901234567890}', '/id', /20 digits/],
    ['{"n":9007199254740993}', '/n', /16 digits/],
    ['{"a":{"b":[1,2,{"c":0.1000000000000000055}]}}', '/a/b/2/c', /19 digits/],
    ['{"amount":1e400}', '/amount', /beyond the range .* null/],
    ['{"amount":-1E+400}', '/amount', /beyond the range/],
    ['{"tiny":1e-400}', '/tiny', /too small .* 0/],
    ['{"x":1,"a/b~c":[0, 123456789012345678]}', '/a~1b~0c/1', /18 digits/],
    ['{"\\u0041":18446744073709551615}', '/A', /20 digits/],
    ['12345678901234567890', '', /20 digits/],
    ['[{}, [], "a", 1, 99999999999999999]', '/4', /17 digits/],
  ])('refuses %s at %s', (text, pointer, reason) => {
    const changed = changedNumber(text);
    expect(changed?.pointer).toBe(pointer);
    expect(changed?.reason).toMatch(reason);
  });

  it('dead-letters such a body with the place and the reason, never the number itself', () => {
    let error: unknown;
    try {
      decodeBody(Buffer.from('{"order":{"card":4111111111111111111,"id":"o-1"}}'));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PipelineError);
    const { code, message } = error as PipelineError;
    expect(code).toBe('INPUT_REJECTED');
    expect(message).toBe(
      'body holds a number JSON cannot carry here unchanged, at /order/card: the number has 19 digits and a double keeps about 16 of them: it would be sent on changed (send it as a string)',
    );
    expect(message).not.toContain('4111');
  });

  it('agrees with exact arithmetic on 100,000 seeded random numbers, wherever they stand', () => {
    const random = prng(20261206);
    const pick = (n: number) => Math.floor(random() * n);
    const digits = (n: number) =>
      Array.from({ length: n }, (_, i) => (i === 0 ? 1 + pick(9) : pick(10))).join('');
    const number = () => {
      const integer = random() < 0.2 ? '0' : digits(1 + pick(22));
      const fraction =
        random() < 0.5
          ? ''
          : `.${'0'.repeat(random() < 0.3 ? pick(20) : 0)}${digits(1 + pick(20))}`;
      const exponent =
        random() < 0.6
          ? ''
          : `${random() < 0.5 ? 'e' : 'E'}${['', '+', '-'][pick(3)]}${String(pick(random() < 0.5 ? 30 : 420))}`;
      return `${random() < 0.3 ? '-' : ''}${integer}${fraction}${exponent}`;
    };
    let changed = 0;
    for (let i = 0; i < 100_000; i++) {
      const token = number();
      const text = [`{"a":${token}}`, `[${token}]`, `[1, ${token}]`, token, `{"a" : \n ${token}}`][
        i % 5
      ];
      const expected = survives(token);
      const found = changedNumber(text);
      if ((found === undefined) !== expected || (numberChange(token) === undefined) !== expected)
        throw new Error(`${text}: exact arithmetic says ${expected ? 'kept' : 'changed'}`);
      if (!expected) changed++;
    }
    // Both kinds were tried, many times.
    expect(changed).toBeGreaterThan(20_000);
    expect(changed).toBeLessThan(80_000);
  });
});

describe('decimal', () => {
  it('writes one value one way, whatever its spelling', () => {
    for (const [text, value] of [
      ['0', '0'],
      ['-0.000e5', '0'],
      ['4111111111111111', '4111111111111111e16'],
      ['41111111111111110e-1', '4111111111111111e16'],
      ['0.0004111111111111111e19', '4111111111111111e16'],
      ['-1.50', '-15e1'],
      ['0.001', '1e-2'],
      ['12E+2', '12e4'],
    ])
      expect([text, decimal(text)]).toEqual([text, value]);
  });

  it('is linear in the length of long runs of zeros', () => {
    const zeros = '0'.repeat(500_000);
    const started = process.hrtime.bigint();
    expect(decimal(`${zeros}1.${zeros}e-3`)).toBe('1e-2');
    expect(decimal(`1${zeros}`)).toBe('1e500001');
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1_000);
  });
});
