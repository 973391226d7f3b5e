import fc from 'fast-check';
import { JunctionError } from '@junction/common';
import { INT4_MAX, IntParamPipe } from './int-param.pipe';

const meta = { type: 'param' as const, data: 'version' };

describe('IntParamPipe', () => {
  const pipe = new IntParamPipe();

  it('takes whole numbers from 1 to int4, as text or as the number ValidationPipe made', () => {
    for (const ok of ['1', '2147483647', 1, INT4_MAX, '0042'])
      expect(pipe.transform(ok, meta)).toBe(Number(ok));
  });

  it('refuses everything else with a 400 that names the parameter', () => {
    const bad = fc.oneof(
      fc.constantFrom(
        '99999999999',
        '2147483648',
        '0',
        '-1',
        '1.5',
        'NaN',
        'Infinity',
        '',
        ' 1',
        '1e3',
        '0x10',
        '9'.repeat(40),
      ),
      fc.constantFrom(2 ** 31, 0, -1, 1.5, NaN, Infinity, 99_999_999_999),
      fc.string().filter((s) => !/^0*[1-9]\d{0,9}$/.test(s) || Number(s) > INT4_MAX),
      fc.constantFrom(null, undefined, [], {}, ['1']),
    );
    fc.assert(
      fc.property(bad, (value) => {
        expect(() => pipe.transform(value, meta)).toThrow(JunctionError);
        try {
          pipe.transform(value, meta);
        } catch (err) {
          expect((err as JunctionError).code).toBe('BAD_REQUEST');
          expect((err as JunctionError).message).toMatch(/^version must be a whole number/);
        }
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('an optional one may be absent', () => {
    const optional = new IntParamPipe({ min: 1, max: INT4_MAX, optional: true });
    expect(optional.transform(undefined, { type: 'query', data: 'diffFrom' })).toBeUndefined();
    expect(() => optional.transform('x', { type: 'query', data: 'diffFrom' })).toThrow(/diffFrom/);
  });
});
